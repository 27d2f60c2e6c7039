//! One error type for every AWS call, classified so that callers decide by kind, not by
//! string matching on codes.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call had. Drives retries, safety decisions and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The account's rate bucket is empty (`Throttling`, `ThrottlingException`,
    /// `PriorRequestNotComplete`, `TooManyRequestsException`).
    Throttled,
    /// The resource does not exist (any more).
    NotFound,
    /// The resource is still used by another (`ResourceInUse`): retry after its user is gone.
    InUse,
    /// A listener-rule priority is taken.
    PriorityInUse,
    /// A resource of that name exists already.
    Duplicate,
    /// A quota was hit (`TooManyTargetGroups`, `TooManyRules`, ...).
    Quota,
    /// AWS rejected the request as malformed.
    Validation,
    /// The credentials may not make this call.
    AccessDenied,
    /// No answer, a timeout or a 5xx: worth retrying later.
    Unavailable,
    /// Anything else.
    Other,
}

impl ErrorKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::NotFound => "not-found",
            Self::InUse => "in-use",
            Self::PriorityInUse => "priority-in-use",
            Self::Duplicate => "duplicate",
            Self::Quota => "quota",
            Self::Validation => "validation",
            Self::AccessDenied => "access-denied",
            Self::Unavailable => "unavailable",
            Self::Other => "error",
        }
    }

    /// Classifies an AWS error code.
    pub(crate) fn from_code(code: &str) -> Self {
        match code {
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "PriorRequestNotComplete"
            // Cloud Map: the same instance has a registration still in progress.
            | "DuplicateRequest" => Self::Throttled,
            "ResourceInUse" | "ResourceInUseException" => Self::InUse,
            "PriorityInUse" => Self::PriorityInUse,
            "DuplicateTargetGroupName"
            | "DuplicateListener"
            | "DuplicateLoadBalancerName"
            | "ServiceAlreadyExists"
            | "NamespaceAlreadyExists"
            // EC2: the permission a rule would grant is there already.
            | "InvalidPermission.Duplicate" => Self::Duplicate,
            "TooManyTargetGroups"
            | "TooManyRules"
            | "TooManyTargets"
            | "TooManyTags"
            | "TooManyActions"
            | "TooManyConditionValues"
            | "TooManyUniqueTargetGroupsPerLoadBalancer"
            | "TooManyLoadBalancers"
            | "TooManyListeners"
            | "TooManyCertificates"
            | "ResourceLimitExceeded"
            | "RulesPerSecurityGroupLimitExceeded" => Self::Quota,
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "SignatureDoesNotMatch" => Self::AccessDenied,
            "ValidationError"
            | "ValidationException"
            | "InvalidParameterException"
            | "InvalidConfigurationRequest"
            | "InvalidInput"
            | "InvalidChangeBatch"
            | "ClientException" => Self::Validation,
            "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "ServerException"
            | "InternalError"
            | "InternalServerError" => Self::Unavailable,
            c if c.ends_with("NotFound")
                || c.ends_with("NotFoundException")
                || c.starts_with("NoSuch") =>
            {
                Self::NotFound
            }
            _ => Self::Other,
        }
    }
}

/// A failed AWS call, with what a person needs to act on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} {operation} failed ({}{}): {message}", kind.as_str(), code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub(crate) fn new(
        service: &'static str,
        operation: &'static str,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            service,
            operation,
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Maps an SDK error: service errors by code, everything else (timeouts, connection
    /// failures, unparseable answers such as an emulator's HTML 500) as `Unavailable`.
    pub fn from_sdk<E, R>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let code = e.code().map(str::to_string);
                let kind = code
                    .as_deref()
                    .map(ErrorKind::from_code)
                    .unwrap_or(ErrorKind::Other);
                let message = e
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string());
                Self {
                    service,
                    operation,
                    kind,
                    code,
                    message,
                }
            }
            SdkError::ConstructionFailure(_) => Self::new(
                service,
                operation,
                ErrorKind::Other,
                format!(
                    "request could not be built (credentials or region missing?): {}",
                    source_chain(&err)
                ),
            ),
            SdkError::TimeoutError(_) => {
                Self::new(service, operation, ErrorKind::Unavailable, "timed out")
            }
            SdkError::DispatchFailure(_) => {
                let chain = source_chain(&err);
                // A missing credential surfaces as a dispatch failure, before any request.
                if chain.contains("credential") {
                    Self::new(
                        service,
                        operation,
                        ErrorKind::AccessDenied,
                        format!("no usable AWS credentials ({})", credential_problem(&chain)),
                    )
                } else {
                    Self::new(
                        service,
                        operation,
                        ErrorKind::Unavailable,
                        format!("could not reach the endpoint: {chain}"),
                    )
                }
            }
            SdkError::ResponseError(_) => Self::new(
                service,
                operation,
                ErrorKind::Unavailable,
                format!("unreadable response: {}", source_chain(&err)),
            ),
            _ => {
                let message = source_chain(&err);
                // Credentials problems surface as dispatch-time errors with this text.
                let kind = if message.contains("credentials") {
                    ErrorKind::AccessDenied
                } else {
                    ErrorKind::Other
                };
                Self::new(service, operation, kind, message)
            }
        }
    }
}

/// The part of a credential failure that says what happened, without the SDK's layers
/// ("dispatch failure: other: ...") and the list of providers tried.
fn credential_problem(chain: &str) -> String {
    let first = chain.lines().next().unwrap_or_default();
    let first = first.split(". Attempted").next().unwrap_or(first);
    let first = first.split(" Attempted:").next().unwrap_or(first);
    first
        .trim_start_matches("dispatch failure: ")
        .trim_start_matches("other: ")
        .trim_end_matches(['.', ' '])
        .to_string()
}

/// The error and all its sources on one line: the SDK's top-level messages alone
/// ("dispatch failure") do not say what went wrong.
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The error code of a write refused by the leader-election fence: this replica may not
/// write now.
pub const NOT_LEADER: &str = "NotLeader";

/// A write refused because this replica may not write now.
pub fn not_leader(service: &'static str, operation: &'static str) -> AwsError {
    let mut e = AwsError::new(
        service,
        operation,
        ErrorKind::Other,
        "not started: this replica does not hold the leader lease (any more)",
    );
    e.code = Some(NOT_LEADER.into());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        let cases = [
            ("Throttling", ErrorKind::Throttled),
            ("ThrottlingException", ErrorKind::Throttled),
            ("PriorRequestNotComplete", ErrorKind::Throttled),
            ("ResourceInUse", ErrorKind::InUse),
            ("PriorityInUse", ErrorKind::PriorityInUse),
            ("DuplicateTargetGroupName", ErrorKind::Duplicate),
            ("TargetGroupNotFound", ErrorKind::NotFound),
            ("ServiceNotFoundException", ErrorKind::NotFound),
            ("NoSuchHostedZone", ErrorKind::NotFound),
            ("TooManyTargetGroups", ErrorKind::Quota),
            ("TooManyLoadBalancers", ErrorKind::Quota),
            ("DuplicateLoadBalancerName", ErrorKind::Duplicate),
            ("ValidationError", ErrorKind::Validation),
            ("AccessDeniedException", ErrorKind::AccessDenied),
            ("ServiceUnavailable", ErrorKind::Unavailable),
            ("SomethingNew", ErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(ErrorKind::from_code(code), kind, "{code}");
        }
    }

    #[test]
    fn message_names_service_operation_and_code() {
        let mut e = AwsError::new(
            "elbv2",
            "CreateRule",
            ErrorKind::PriorityInUse,
            "Priority '5' is currently in use",
        );
        e.code = Some("PriorityInUse".into());
        assert_eq!(
            e.to_string(),
            "elbv2 CreateRule failed (priority-in-use, PriorityInUse): Priority '5' is currently in use"
        );
    }
}
