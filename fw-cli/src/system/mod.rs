//! The real system behind fw-core's seams.

pub mod env;
