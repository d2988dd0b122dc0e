//! Errors in DigitalOcean's shape: `{"id", "message", "request_id"}` with
//! the status the real API uses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sandbox::api::reply;
use crate::sandbox::state::PersistFailed;

tokio::task_local! {
    /// The id of the request being handled, for error bodies.
    pub static REQUEST_ID: String;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            id,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "The resource you were accessing could not be found.",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you.",
        )
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "API Rate limit exceeded.",
        )
    }

    pub fn server_error(status: StatusCode) -> Self {
        let (id, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
            (
                "service_unavailable",
                "The service is temporarily unavailable.",
            )
        } else {
            ("server_error", "Unexpected server-side error")
        };
        Self::new(status, id, message)
    }

    /// Reject a droplet action while another is in progress.
    pub fn pending_event() -> Self {
        Self::unprocessable("Droplet already has a pending event.")
    }
}

impl From<PersistFailed> for ApiError {
    fn from(error: PersistFailed) -> Self {
        tracing::error!(error = %error, "a change could not be saved");
        Self::server_error(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        reply::json(
            self.status,
            json!({ "id": self.id, "message": self.message, "request_id": request_id }),
        )
    }
}

pub type ApiResult = Result<Response, ApiError>;
