//! Placeholder: the coordination core lands here.
