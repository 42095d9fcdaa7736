//! Rendering a plan to restore-format text.
