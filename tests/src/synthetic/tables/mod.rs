//! The book's data, kept apart from the code that draws from it: regions with their number plans
//! and mail providers, names per culture, and the labels, domains, services and providers values
//! are made from. No logic here; a change to any table changes the book (see `super`).

pub(super) mod names;
pub(super) mod regions;
pub(super) mod values;
