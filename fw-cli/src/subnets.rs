//! The container's connected subnets, from netlink. (being written)
