//! Inventory (in progress).
