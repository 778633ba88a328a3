use thiserror::Error;

/// Errors from parsing time zones, time modifiers and cron schedules.
///
/// Every variant carries the offending input so that a message can be shown to a user as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// A time zone name that is neither `UTC`, a fixed offset, nor in the tz database.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone { name: String },
    /// A unit that Splunk does not know, e.g. `mo` in `-1mo`.
    #[error("unknown time unit `{unit}` in `{input}`")]
    UnknownUnit { unit: String, input: String },
    /// Any other malformed time modifier.
    #[error("invalid time modifier `{input}`: {reason}")]
    InvalidModifier { input: String, reason: String },
    /// A search window whose earliest time resolves after its latest time.
    #[error("earliest time `{earliest}` resolves after latest time `{latest}`")]
    InvalidWindow { earliest: String, latest: String },
    /// A cron schedule that is not a valid 5-field Splunk cron expression.
    #[error("invalid cron schedule `{input}`: {reason}")]
    InvalidCron { input: String, reason: String },
}
