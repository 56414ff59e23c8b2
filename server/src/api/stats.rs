//! `GET /api/stats` (JSON) and `GET /metrics` (Prometheus / OpenMetrics text).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use crate::AppState;
use wire::model::StatsReport;

pub async fn get(State(app): State<AppState>) -> Json<StatsReport> {
    Json(app.stats())
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}
