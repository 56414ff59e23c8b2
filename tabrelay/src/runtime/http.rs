//! `fetch` for the few requests a tab makes besides the stream (device resync, inject form).

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// What came back: status, the headers the caller asked for (in the order asked), and the body.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The headers asked for, in the order asked (`None`: absent).
    pub headers: Vec<Option<String>>,
    /// The whole body.
    pub body: String,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `method url` and reads the whole answer. `Err` only when no answer arrived.
pub async fn send(method: &str, url: &str, headers: &[&str]) -> Result<Reply, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| "the server did not answer".to_string())?;
    let response: web_sys::Response = response.unchecked_into();
    let headers = headers
        .iter()
        .map(|name| response.headers().get(name).ok().flatten())
        .collect();
    let body = match response.text() {
        Ok(text) => JsFuture::from(text).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    }
    .unwrap_or_default();
    Ok(Reply {
        status: response.status(),
        headers,
        body,
    })
}
