//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: with the Redis bus,
//! Redis is reachable and the log's tail is running; always with the embedded bus).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let bus = if app.redis.is_some() {
        "redis"
    } else {
        "embedded"
    };
    match app.cluster.as_ref().and_then(|c| c.problem()) {
        None => Ok(Json(json!({ "status": "ready", "bus": bus }))),
        Some(problem) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {problem}"),
        )),
    }
}
