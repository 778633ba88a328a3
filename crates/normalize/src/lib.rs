//! Normalization. TODO(readers helper).
