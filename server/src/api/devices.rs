//! `GET /api/devices` (the snapshot) and `POST /api/devices/{id}/online|offline` (inject one
//! event, for tests, demos and the load generator).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use wire::model::{
    validate_device_id, validate_device_name, Device, DeviceEvent, DeviceEventKind, InjectRequest,
    EPOCH_HEADER, HEAD_ID_HEADER,
};

use crate::error::ApiError;
use crate::AppState;

/// The devices, with the head id they are current to and the run (epoch) that id is from.
pub async fn list(State(app): State<AppState>) -> ([(&'static str, String); 2], Json<Vec<Device>>) {
    let (head, devices) = app.hub.devices_at_head();
    (
        [
            (HEAD_ID_HEADER, head.id.to_string()),
            (EPOCH_HEADER, head.epoch),
        ],
        Json(devices),
    )
}

pub async fn inject(
    State(app): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Option<Json<InjectRequest>>, JsonRejection>,
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
    let name = body?.and_then(|Json(request)| request.name);
    if let Some(name) = &name {
        validate_device_name(name).map_err(ApiError::bad_request)?;
    }
    let event = app
        .bus
        .publish(&id, kind, name)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(event))
}
