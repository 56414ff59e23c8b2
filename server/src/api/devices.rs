//! `GET /api/devices` (the snapshot) and `POST /api/devices/{id}/online|offline` (inject one
//! event, for tests, demos and the load generator).

use app::model::{validate_device_id, Device, DeviceEvent, DeviceEventKind};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use crate::error::ApiError;
use crate::AppState;

pub async fn list(State(app): State<AppState>) -> Json<Vec<Device>> {
    Json(app.hub.devices())
}

pub async fn inject(
    State(app): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<DeviceEvent>, ApiError> {
    app.admin.authorize(&headers)?;
    let Path((id, action)) = path?;
    let kind = match action.as_str() {
        "online" => DeviceEventKind::DeviceOnline,
        "offline" => DeviceEventKind::DeviceOffline,
        other => {
            return Err(ApiError::not_found(format!(
                "unknown action {:?}; expected \"online\" or \"offline\"",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    validate_device_id(&id).map_err(ApiError::bad_request)?;
    let event = app
        .bus
        .publish(&id, kind)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(event))
}
