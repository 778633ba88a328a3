//! Format readers. TODO(readers helper).
