//! The query API's errors: codes, HTTP statuses and texts, as Alibaba Cloud
//! answers them. Mapping them onto an HTTP response happens in one
//! place, `entry::http`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ForbiddenRam,
    MissingParameter,
    InvalidActionNotFound,
    InvalidStartTimeMalformed,
    InvalidEndTimeMalformed,
    InvalidEndTimeMismatch,
    InvalidTimeSpan,
    InvalidStartTimeValueNotSupported,
    InvalidRecordModeParameter,
    InvalidIntervalValueNotSupported,
    InvalidAppIdParameter,
    InternalError,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::ForbiddenRam => "Forbidden.RAM",
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::InvalidActionNotFound => "InvalidAction.NotFound",
            ErrorCode::InvalidStartTimeMalformed => "InvalidStartTime.Malformed",
            ErrorCode::InvalidEndTimeMalformed => "InvalidEndTime.Malformed",
            ErrorCode::InvalidEndTimeMismatch => "InvalidEndTime.Mismatch",
            ErrorCode::InvalidTimeSpan => "InvalidTimeSpan",
            ErrorCode::InvalidStartTimeValueNotSupported => "InvalidStartTime.ValueNotSupported",
            ErrorCode::InvalidRecordModeParameter => "InvalidRecordModeParameter",
            ErrorCode::InvalidIntervalValueNotSupported => "InvalidInterval.ValueNotSupported",
            ErrorCode::InvalidAppIdParameter => "InvalidAppIdParameter",
            ErrorCode::InternalError => "InternalError",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ForbiddenRam => 403,
            ErrorCode::InvalidActionNotFound => 404,
            ErrorCode::InternalError => 500,
            _ => 400,
        }
    }

    fn recommend(self) -> &'static str {
        match self {
            ErrorCode::ForbiddenRam => {
                "Sign the request with AWS Signature Version 4 credentials of the account that owns the app."
            }
            ErrorCode::MissingParameter => {
                "Supply Action, StartTime, EndTime, AppId and RecordMode, each non-empty."
            }
            ErrorCode::InvalidActionNotFound => "Use Action=DescribeLiveRtcRecordUsageData.",
            ErrorCode::InvalidStartTimeMalformed | ErrorCode::InvalidEndTimeMalformed => {
                "Use the UTC format YYYY-MM-DDThh:mm:ssZ, for example 2026-11-20T10:00:00Z."
            }
            ErrorCode::InvalidEndTimeMismatch => "Make EndTime later than StartTime.",
            ErrorCode::InvalidTimeSpan => {
                "Make EndTime - StartTime at least 5 minutes and at most 31 days."
            }
            ErrorCode::InvalidStartTimeValueNotSupported => {
                "Use a StartTime between 366 days ago and now."
            }
            ErrorCode::InvalidRecordModeParameter => {
                "Use RecordMode=0 (single-stream) or RecordMode=1 (stream mixing)."
            }
            ErrorCode::InvalidIntervalValueNotSupported => {
                "Use Interval=3600 or Interval=86400, or leave it out."
            }
            ErrorCode::InvalidAppIdParameter => {
                "Use the AppId of an application registered to your account."
            }
            ErrorCode::InternalError => "Try again later; if it persists, report the RequestId.",
        }
    }
}

/// An error answer of the query API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        let message = match code {
            ErrorCode::ForbiddenRam => {
                "User not authorized to operate on the specified resource: the request carries no AWS account identity."
            }
            ErrorCode::MissingParameter => "A mandatory parameter is not supplied.",
            ErrorCode::InvalidActionNotFound => {
                "Specified api is not found, please check your url and method."
            }
            ErrorCode::InvalidStartTimeMalformed => "Specified parameter StartTime is not valid.",
            ErrorCode::InvalidEndTimeMalformed => "Specified parameter EndTime is not valid.",
            ErrorCode::InvalidEndTimeMismatch => {
                "Specified end time does not match the specified start time."
            }
            ErrorCode::InvalidTimeSpan => "The time span exceeds the limit.",
            ErrorCode::InvalidStartTimeValueNotSupported => {
                "The specified value of parameter StartTime is not supported."
            }
            ErrorCode::InvalidRecordModeParameter => "RecordMode parameter error.",
            ErrorCode::InvalidIntervalValueNotSupported => {
                "The specified value of parameter Interval is not supported."
            }
            ErrorCode::InvalidAppIdParameter => "AppId parameter error.",
            ErrorCode::InternalError => {
                "The request processing has failed due to some unknown error."
            }
        };
        ApiError {
            code,
            message: message.to_owned(),
        }
    }

    /// `MissingParameter`, naming the parameter as Alibaba Cloud does.
    pub fn missing(parameter: &str) -> Self {
        ApiError {
            code: ErrorCode::MissingParameter,
            message: format!(
                "The input parameter \"{parameter}\" that is mandatory for processing this request is not supplied."
            ),
        }
    }

    pub fn recommend(&self) -> &'static str {
        self.code.recommend()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message)
    }
}

impl std::error::Error for ApiError {}
