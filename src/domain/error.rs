//! The query API's errors, for every action: codes, HTTP statuses and texts,
//! as Alibaba Cloud answers them. Mapping them onto an HTTP response happens in one
//! place, `entry::http`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ForbiddenRam,
    InvalidAccessKeyIdNotFound,
    SignatureDoesNotMatch,
    InvalidTimeStampExpired,
    SignatureNonceUsed,
    ThrottlingUser,
    MissingParameter,
    InvalidActionNotFound,
    InvalidStartTimeMalformed,
    InvalidEndTimeMalformed,
    InvalidEndTimeMismatch,
    InvalidTimeSpan,
    InvalidStartTimeValueNotSupported,
    InvalidRecordModeParameter,
    InvalidIntervalValueNotSupported,
    InvalidServiceTypeValueNotSupported,
    InvalidMonthMalformed,
    InvalidClassIdMalformed,
    InvalidPageNumberValueNotSupported,
    InvalidPageSizeValueNotSupported,
    InvalidAppIdParameter,
    InvalidMonthValueNotSupported,
    InvalidTimeSpanTooManyRecords,
    InternalError,
}

impl ErrorCode {
    /// Every code, in the order the validation reaches them.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::ForbiddenRam,
        ErrorCode::InvalidAccessKeyIdNotFound,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::InvalidTimeStampExpired,
        ErrorCode::SignatureNonceUsed,
        ErrorCode::ThrottlingUser,
        ErrorCode::MissingParameter,
        ErrorCode::InvalidActionNotFound,
        ErrorCode::InvalidStartTimeMalformed,
        ErrorCode::InvalidEndTimeMalformed,
        ErrorCode::InvalidEndTimeMismatch,
        ErrorCode::InvalidTimeSpan,
        ErrorCode::InvalidStartTimeValueNotSupported,
        ErrorCode::InvalidRecordModeParameter,
        ErrorCode::InvalidIntervalValueNotSupported,
        ErrorCode::InvalidServiceTypeValueNotSupported,
        ErrorCode::InvalidMonthMalformed,
        ErrorCode::InvalidClassIdMalformed,
        ErrorCode::InvalidPageNumberValueNotSupported,
        ErrorCode::InvalidPageSizeValueNotSupported,
        ErrorCode::InvalidAppIdParameter,
        ErrorCode::InvalidMonthValueNotSupported,
        ErrorCode::InvalidTimeSpanTooManyRecords,
        ErrorCode::InternalError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::ForbiddenRam => "Forbidden.RAM",
            ErrorCode::InvalidAccessKeyIdNotFound => "InvalidAccessKeyId.NotFound",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::InvalidTimeStampExpired => "InvalidTimeStamp.Expired",
            ErrorCode::SignatureNonceUsed => "SignatureNonceUsed",
            ErrorCode::ThrottlingUser => "Throttling.User",
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::InvalidActionNotFound => "InvalidAction.NotFound",
            ErrorCode::InvalidStartTimeMalformed => "InvalidStartTime.Malformed",
            ErrorCode::InvalidEndTimeMalformed => "InvalidEndTime.Malformed",
            ErrorCode::InvalidEndTimeMismatch => "InvalidEndTime.Mismatch",
            ErrorCode::InvalidTimeSpan => "InvalidTimeSpan",
            ErrorCode::InvalidStartTimeValueNotSupported => "InvalidStartTime.ValueNotSupported",
            ErrorCode::InvalidRecordModeParameter => "InvalidRecordModeParameter",
            ErrorCode::InvalidIntervalValueNotSupported => "InvalidInterval.ValueNotSupported",
            ErrorCode::InvalidServiceTypeValueNotSupported => {
                "InvalidServiceType.ValueNotSupported"
            }
            ErrorCode::InvalidMonthMalformed => "InvalidMonth.Malformed",
            ErrorCode::InvalidMonthValueNotSupported => "InvalidMonth.ValueNotSupported",
            ErrorCode::InvalidClassIdMalformed => "InvalidClassId.Malformed",
            ErrorCode::InvalidPageNumberValueNotSupported => "InvalidPageNumber.ValueNotSupported",
            ErrorCode::InvalidPageSizeValueNotSupported => "InvalidPageSize.ValueNotSupported",
            ErrorCode::InvalidAppIdParameter => "InvalidAppIdParameter",
            ErrorCode::InvalidTimeSpanTooManyRecords => "InvalidTimeSpan.TooManyRecords",
            ErrorCode::InternalError => "InternalError",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ForbiddenRam => 403,
            ErrorCode::InvalidAccessKeyIdNotFound => 403,
            ErrorCode::SignatureDoesNotMatch => 403,
            ErrorCode::ThrottlingUser => 429,
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
            ErrorCode::InvalidAccessKeyIdNotFound => {
                "Use an AccessKey ID issued for your account that has not been revoked."
            }
            ErrorCode::SignatureDoesNotMatch => {
                "Sign the request with the AccessKey secret issued with its AccessKey ID, as Alibaba Cloud's SDKs do (ACS3-HMAC-SHA256, or HMAC-SHA1 signature version 1.0)."
            }
            ErrorCode::InvalidTimeStampExpired => {
                "Set x-acs-date or Timestamp to the current UTC time as YYYY-MM-DDThh:mm:ssZ, at most 15 minutes off."
            }
            ErrorCode::SignatureNonceUsed => {
                "Use a new random nonce (x-acs-signature-nonce or SignatureNonce) for every request."
            }
            ErrorCode::ThrottlingUser => {
                "Send at most 10 requests per second with one AccessKey, and retry later."
            }
            ErrorCode::MissingParameter => {
                "Supply Action and every parameter the action requires, each non-empty."
            }
            ErrorCode::InvalidActionNotFound => {
                "Use Action=DescribeLiveRtcRecordUsageData, DescribeApps, DescribeUsageData, DescribeUsageDetails, ExportUsageDetails, DescribeUsagePackages, DescribeStatement, DescribeStatements or DescribeAlerts."
            }
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
            ErrorCode::InvalidServiceTypeValueNotSupported => {
                "Use ServiceType=AudioVideo, Recording or Storage with DescribeUsageData, and AudioVideo or Recording with DescribeUsageDetails and ExportUsageDetails."
            }
            ErrorCode::InvalidMonthMalformed => "Write Month as YYYY-MM, such as 2026-11.",
            ErrorCode::InvalidMonthValueNotSupported => {
                "Ask for the app's current month (in its billing time zone) or one of the 12 before it."
            }
            ErrorCode::InvalidClassIdMalformed => {
                "Use a ClassId of 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.', or leave it out."
            }
            ErrorCode::InvalidPageNumberValueNotSupported => {
                "Use a PageNumber from 1 to 100000 in plain decimal digits, or leave it out for page 1."
            }
            ErrorCode::InvalidPageSizeValueNotSupported => {
                "Use a PageSize from 1 to 100 in plain decimal digits, or leave it out for 20 rows."
            }
            ErrorCode::InvalidAppIdParameter => {
                "Use the AppId of an application registered to your account."
            }
            ErrorCode::InvalidTimeSpanTooManyRecords => {
                "Export a shorter time span, or one class with ClassId, so that the file stays under 5,000,000 bytes."
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
    /// How to fix it: the code's own sentence, unless the refusal needs a
    /// more precise one.
    recommend: &'static str,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        let message = match code {
            ErrorCode::ForbiddenRam => {
                "User not authorized to operate on the specified resource: the request carries no AWS account identity."
            }
            ErrorCode::InvalidAccessKeyIdNotFound => "Specified access key is not found.",
            ErrorCode::SignatureDoesNotMatch => {
                "Specified signature is not matched with our calculation."
            }
            ErrorCode::InvalidTimeStampExpired => "Specified time stamp or date value is expired.",
            ErrorCode::SignatureNonceUsed => "Specified signature nonce was used already.",
            ErrorCode::ThrottlingUser => "Request was denied due to user flow control.",
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
            ErrorCode::InvalidServiceTypeValueNotSupported => {
                "The specified value of parameter ServiceType is not supported."
            }
            ErrorCode::InvalidMonthMalformed => "Specified parameter Month is not valid.",
            ErrorCode::InvalidMonthValueNotSupported => {
                "The specified value of parameter Month is not supported."
            }
            ErrorCode::InvalidClassIdMalformed => "Specified parameter ClassId is not valid.",
            ErrorCode::InvalidPageNumberValueNotSupported => {
                "The specified value of parameter PageNumber is not supported."
            }
            ErrorCode::InvalidPageSizeValueNotSupported => {
                "The specified value of parameter PageSize is not supported."
            }
            ErrorCode::InvalidAppIdParameter => "AppId parameter error.",
            ErrorCode::InvalidTimeSpanTooManyRecords => {
                "The specified time span holds too many records to export. Please specify a shorter time span or one ClassId."
            }
            ErrorCode::InternalError => {
                "The request processing has failed due to some unknown error."
            }
        };
        ApiError {
            code,
            message: message.to_owned(),
            recommend: code.recommend(),
        }
    }

    /// `Forbidden.RAM` on the Alibaba-signed API: the request carries no
    /// AccessKey signature, and an AWS signature would not help there.
    pub fn unsigned() -> Self {
        ApiError {
            code: ErrorCode::ForbiddenRam,
            message: "User not authorized to operate on the specified resource: the request carries no AccessKey signature.".to_owned(),
            recommend: "Sign the request with an AccessKey issued for your account (ACS3-HMAC-SHA256 or HMAC-SHA1 signature version 1.0), as Alibaba Cloud's SDKs do.",
        }
    }

    /// `MissingParameter`, naming the parameter as Alibaba Cloud does.
    pub fn missing(parameter: &str) -> Self {
        ApiError {
            code: ErrorCode::MissingParameter,
            message: format!(
                "The input parameter \"{parameter}\" that is mandatory for processing this request is not supplied."
            ),
            recommend: ErrorCode::MissingParameter.recommend(),
        }
    }

    pub fn recommend(&self) -> &'static str {
        self.recommend
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_code_has_its_own_text_a_status_a_message_and_a_recommendation() {
        let texts: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(texts.len(), ErrorCode::ALL.len(), "codes are distinct");
        for code in ErrorCode::ALL {
            let error = ApiError::new(code);
            assert!(error.message.ends_with('.'), "{code:?}: {}", error.message);
            assert!(error.recommend().ends_with('.'), "{code:?}");
            assert!(!error.message.contains("{"), "{code:?}");
            assert!(
                [400, 403, 404, 429, 500].contains(&code.http_status()),
                "{code:?}"
            );
        }
    }

    #[test]
    fn all_lists_every_code_in_declaration_order() {
        // A code declared anywhere before `InternalError` (the last) and
        // missing from `ALL` shifts the discriminants and fails here.
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, index, "{code:?}");
        }
        assert_eq!(ErrorCode::ALL.last(), Some(&ErrorCode::InternalError));
    }

    #[test]
    fn the_usage_api_codes() {
        let cases = [
            (
                ErrorCode::InvalidServiceTypeValueNotSupported,
                "InvalidServiceType.ValueNotSupported",
            ),
            (ErrorCode::InvalidMonthMalformed, "InvalidMonth.Malformed"),
            (
                ErrorCode::InvalidMonthValueNotSupported,
                "InvalidMonth.ValueNotSupported",
            ),
            (
                ErrorCode::InvalidClassIdMalformed,
                "InvalidClassId.Malformed",
            ),
            (
                ErrorCode::InvalidPageNumberValueNotSupported,
                "InvalidPageNumber.ValueNotSupported",
            ),
            (
                ErrorCode::InvalidPageSizeValueNotSupported,
                "InvalidPageSize.ValueNotSupported",
            ),
            (
                ErrorCode::InvalidTimeSpanTooManyRecords,
                "InvalidTimeSpan.TooManyRecords",
            ),
        ];
        for (code, text) in cases {
            assert_eq!(code.code(), text);
            assert_eq!(code.http_status(), 400, "{text}");
        }
        // The export limit's message asks for a shorter window or one class.
        let too_many = ApiError::new(ErrorCode::InvalidTimeSpanTooManyRecords).message;
        assert!(too_many.contains("shorter time span"), "{too_many}");
        assert!(too_many.contains("ClassId"), "{too_many}");
    }

    #[test]
    fn statuses_other_than_400() {
        assert_eq!(ErrorCode::ForbiddenRam.http_status(), 403);
        assert_eq!(ErrorCode::InvalidAccessKeyIdNotFound.http_status(), 403);
        assert_eq!(ErrorCode::SignatureDoesNotMatch.http_status(), 403);
        assert_eq!(ErrorCode::ThrottlingUser.http_status(), 429);
        assert_eq!(ErrorCode::InvalidActionNotFound.http_status(), 404);
        assert_eq!(ErrorCode::InternalError.http_status(), 500);
        let others = ErrorCode::ALL.iter().filter(|c| c.http_status() == 400);
        assert_eq!(others.count(), ErrorCode::ALL.len() - 6);
    }

    #[test]
    fn the_alibaba_signature_codes() {
        let cases = [
            (
                ErrorCode::InvalidAccessKeyIdNotFound,
                "InvalidAccessKeyId.NotFound",
                403,
            ),
            (
                ErrorCode::SignatureDoesNotMatch,
                "SignatureDoesNotMatch",
                403,
            ),
            (
                ErrorCode::InvalidTimeStampExpired,
                "InvalidTimeStamp.Expired",
                400,
            ),
            (ErrorCode::SignatureNonceUsed, "SignatureNonceUsed", 400),
            (ErrorCode::ThrottlingUser, "Throttling.User", 429),
        ];
        for (code, text, status) in cases {
            assert_eq!(code.code(), text);
            assert_eq!(code.http_status(), status, "{text}");
        }
    }

    #[test]
    fn missing_parameter_names_the_parameter() {
        let error = ApiError::missing("ServiceType");
        assert_eq!(error.code, ErrorCode::MissingParameter);
        assert_eq!(
            error.message,
            "The input parameter \"ServiceType\" that is mandatory for processing this request is not supplied."
        );
    }
}
