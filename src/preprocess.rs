//! Preprocessing as scGNN does it (spec §1).
