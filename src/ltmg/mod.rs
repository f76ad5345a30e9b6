//! (stage module; filled in by its issue)
