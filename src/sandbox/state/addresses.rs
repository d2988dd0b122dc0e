//! Droplet addresses: public ones from the lab network 10.77.0.0/16 and
//! private (VPC) ones from 10.124.0.0/16.
//!
//! The first two addresses of each range (the network and the gateway,
//! 10.77.0.1) and the last (broadcast) are never handed out, and neither is
//! an address a droplet of any account holds.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::sandbox::state::World;

pub const PUBLIC_NETWORK: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 0);
pub const PUBLIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const PRIVATE_NETWORK: Ipv4Addr = Ipv4Addr::new(10, 124, 0, 0);
pub const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 0, 0);

/// Host numbers inside a /16 that may be handed out.
const FIRST_HOST: u32 = 2;
const LAST_HOST: u32 = 65_534;

#[derive(Debug, thiserror::Error)]
#[error("no free address is left in {network}/16")]
pub struct AddressesExhausted {
    pub network: Ipv4Addr,
}

/// Allocate a public and a private address for a new droplet: `wanted`
/// when it is a free address of the public range, else the next free one.
pub fn allocate(
    world: &mut World,
    wanted: Option<Ipv4Addr>,
) -> Result<(Ipv4Addr, Ipv4Addr), AddressesExhausted> {
    let (public_used, private_used) = addresses_in_use(world);

    let wanted = wanted.filter(|address| {
        let host = host_number(*address);
        u32::from(*address) & 0xffff_0000 == u32::from(PUBLIC_NETWORK)
            && (FIRST_HOST..=LAST_HOST).contains(&host)
            && !public_used.contains(address)
    });
    if let Some(public) = wanted {
        let private = next_free(PRIVATE_NETWORK, world.cursors.private, &private_used)?;
        world.cursors.private = host_number(private);
        return Ok((public, private));
    }
    let public = next_free(PUBLIC_NETWORK, world.cursors.public, &public_used)?;
    let private = next_free(PRIVATE_NETWORK, world.cursors.private, &private_used)?;

    world.cursors.public = host_number(public);
    world.cursors.private = host_number(private);
    Ok((public, private))
}

fn addresses_in_use(world: &World) -> (HashSet<Ipv4Addr>, HashSet<Ipv4Addr>) {
    let droplets = world
        .accounts
        .values()
        .flat_map(|account| account.droplets.values());
    let mut public = HashSet::new();
    let mut private = HashSet::new();
    for droplet in droplets {
        public.insert(droplet.public_ipv4);
        private.insert(droplet.private_ipv4);
    }
    (public, private)
}

/// Find the first free address after the cursor, wrapping around the range.
fn next_free(
    network: Ipv4Addr,
    cursor: u32,
    used: &HashSet<Ipv4Addr>,
) -> Result<Ipv4Addr, AddressesExhausted> {
    let span = LAST_HOST - FIRST_HOST + 1;
    let start = cursor.clamp(FIRST_HOST - 1, LAST_HOST) + 1;
    (0..span)
        .map(|offset| FIRST_HOST + (start - FIRST_HOST + offset) % span)
        .map(|host| Ipv4Addr::from(u32::from(network) + host))
        .find(|address| !used.contains(address))
        .ok_or(AddressesExhausted { network })
}

fn host_number(address: Ipv4Addr) -> u32 {
    u32::from(address) & 0xffff
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    use super::{PUBLIC_NETWORK, next_free};

    #[test]
    fn allocation_skips_network_gateway_and_used() {
        let used = HashSet::from([Ipv4Addr::new(10, 77, 0, 2)]);
        assert_eq!(
            next_free(PUBLIC_NETWORK, 0, &used).unwrap(),
            Ipv4Addr::new(10, 77, 0, 3)
        );
    }

    #[test]
    fn allocation_wraps_before_broadcast() {
        let used = HashSet::new();
        assert_eq!(
            next_free(PUBLIC_NETWORK, 65_534, &used).unwrap(),
            Ipv4Addr::new(10, 77, 0, 2)
        );
        assert_eq!(
            next_free(PUBLIC_NETWORK, 65_533, &used).unwrap(),
            Ipv4Addr::new(10, 77, 255, 254)
        );
    }
}
