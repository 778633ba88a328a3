//! The alert store's triage methods: the review rules of `review.rs` applied through the
//! backend, so both backends share them.

use crate::review::{
    check_one_of, plan, AuditEntry, NotableFilter, ReviewChange, ReviewError, ReviewedNotable, STATUSES, UNASSIGNED, URGENCIES,
};
use crate::store::{RiskStore, StoreError};
use vigil_model::Micros;

impl RiskStore {
    /// A page of notables matching `filter`, newest first, and how many match in all.
    pub fn review_list(&self, filter: &NotableFilter, offset: usize, limit: usize) -> Result<(Vec<ReviewedNotable>, usize), StoreError> {
        self.backend.review_list(filter, i64::try_from(offset).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX))
    }

    /// One notable with its review state.
    pub fn review_get(&self, id: &str) -> Result<Option<ReviewedNotable>, StoreError> {
        self.backend.review_get(id)
    }

    /// The audit trail of a notable, oldest first.
    pub fn review_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.backend.review_audit(id)
    }

    /// Applies an analyst's change at `now`, recording each changed value (and the comment) in
    /// the audit trail; returns the notable as it now is.
    pub fn review_update(&mut self, id: &str, change: &ReviewChange, user: &str, now: Micros) -> Result<ReviewedNotable, ReviewError> {
        if let Some(s) = &change.status {
            check_one_of("status", s, &STATUSES)?;
        }
        if let Some(u) = &change.urgency {
            check_one_of("urgency", u, &URGENCIES)?;
        }
        if change.owner.as_ref().is_some_and(|o| o.trim().is_empty()) {
            return Err(ReviewError::Invalid(format!("owner must not be empty (`{UNASSIGNED}` releases a notable)")));
        }
        self.backend
            .review_update(id, &|current| plan(current, change), user, now)?
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        self.review_get(id)?.ok_or_else(|| ReviewError::NotFound(id.to_string()))
    }
}
