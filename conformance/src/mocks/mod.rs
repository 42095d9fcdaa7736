//! The sandbox's mock services. (being written)
