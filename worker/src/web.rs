//! Browser entry point of the dedicated worker.
