//! Readers and writers for every supported format.
