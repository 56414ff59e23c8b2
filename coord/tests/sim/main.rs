//! The deterministic simulator of many tabs, and the tests that run it.
//!
//! * `world`: the simulated browser (tabs, BroadcastChannel, Web Locks, SSE server, faults), one
//!   file per job (see its module docs)
//! * `invariants`: safety / liveness / delivery properties, checked on every step
//! * `seeded`: thousands of random schedules per mechanism (`COORD_SEEDS` for more), regression
//!   seeds, `COORD_SEED` reruns
//! * `scenarios`: hand-written stories that read like documentation

mod invariants;
mod scenarios;
mod seeded;
mod world;
