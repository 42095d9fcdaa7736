//! A reader of the restore formats we render.
