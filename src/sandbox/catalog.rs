//! The regions, sizes and public images the emulated cloud offers, with the
//! attributes the API embeds in droplets and actions.

use serde_json::{Value, json};

pub struct Region {
    pub slug: &'static str,
    pub name: &'static str,
}

pub struct Size {
    pub slug: &'static str,
    pub memory_mib: u64,
    pub vcpus: u64,
    pub disk_gib: u64,
    pub transfer_tib: f64,
    pub price_monthly: f64,
    pub description: &'static str,
}

pub struct Image {
    pub id: u64,
    pub slug: &'static str,
    pub name: &'static str,
    pub distribution: &'static str,
    pub min_disk_size: u64,
    pub size_gigabytes: f64,
    pub created_at: &'static str,
}

pub const REGIONS: &[Region] = &[
    Region {
        slug: "nyc1",
        name: "New York 1",
    },
    Region {
        slug: "nyc3",
        name: "New York 3",
    },
    Region {
        slug: "sfo2",
        name: "San Francisco 2",
    },
    Region {
        slug: "sfo3",
        name: "San Francisco 3",
    },
    Region {
        slug: "ams3",
        name: "Amsterdam 3",
    },
    Region {
        slug: "sgp1",
        name: "Singapore 1",
    },
    Region {
        slug: "lon1",
        name: "London 1",
    },
    Region {
        slug: "fra1",
        name: "Frankfurt 1",
    },
    Region {
        slug: "tor1",
        name: "Toronto 1",
    },
    Region {
        slug: "blr1",
        name: "Bangalore 1",
    },
    Region {
        slug: "syd1",
        name: "Sydney 1",
    },
];

/// The region a create without `region` lands in.
pub const DEFAULT_REGION: &str = "nyc3";

pub const SIZES: &[Size] = &[
    size("s-1vcpu-512mb-10gb", 512, 1, 10, 0.5, 4.0, "Basic"),
    size("s-1vcpu-1gb", 1024, 1, 25, 1.0, 6.0, "Basic"),
    size("s-1vcpu-2gb", 2048, 1, 50, 2.0, 12.0, "Basic"),
    size("s-2vcpu-2gb", 2048, 2, 60, 3.0, 18.0, "Basic"),
    size("s-2vcpu-4gb", 4096, 2, 80, 4.0, 24.0, "Basic"),
    size("s-4vcpu-8gb", 8192, 4, 160, 5.0, 48.0, "Basic"),
    size("s-8vcpu-16gb", 16384, 8, 320, 6.0, 96.0, "Basic"),
    size("c-2", 4096, 2, 25, 4.0, 42.0, "CPU-Optimized"),
    size("g-2vcpu-8gb", 8192, 2, 25, 4.0, 63.0, "General Purpose"),
    size("m-2vcpu-16gb", 16384, 2, 50, 4.0, 84.0, "Memory-Optimized"),
];

pub const IMAGES: &[Image] = &[
    image(155_000_001, "debian-12-x64", "12 x64", "Debian", 15, 1.1),
    image(155_000_002, "debian-11-x64", "11 x64", "Debian", 15, 0.98),
    image(
        155_000_003,
        "ubuntu-24-04-x64",
        "24.04 (LTS) x64",
        "Ubuntu",
        15,
        2.05,
    ),
    image(
        155_000_004,
        "ubuntu-22-04-x64",
        "22.04 (LTS) x64",
        "Ubuntu",
        15,
        1.84,
    ),
    image(
        155_000_005,
        "ubuntu-20-04-x64",
        "20.04 (LTS) x64",
        "Ubuntu",
        15,
        2.36,
    ),
    image(
        155_000_006,
        "rockylinux-9-x64",
        "9 x64",
        "Rocky Linux",
        15,
        1.22,
    ),
];

const fn size(
    slug: &'static str,
    memory_mib: u64,
    vcpus: u64,
    disk_gib: u64,
    transfer_tib: f64,
    price_monthly: f64,
    description: &'static str,
) -> Size {
    Size {
        slug,
        memory_mib,
        vcpus,
        disk_gib,
        transfer_tib,
        price_monthly,
        description,
    }
}

const fn image(
    id: u64,
    slug: &'static str,
    name: &'static str,
    distribution: &'static str,
    min_disk_size: u64,
    size_gigabytes: f64,
) -> Image {
    Image {
        id,
        slug,
        name,
        distribution,
        min_disk_size,
        size_gigabytes,
        created_at: "2024-06-10T18:24:42Z",
    }
}

pub fn region(slug: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|region| region.slug == slug)
}

/// Resolve a create request's `region`: a slug, or a prefix such as `nyc`
/// that picks a region of that city.
pub fn resolve_region(requested: &str) -> Option<&'static Region> {
    region(requested).or_else(|| {
        let matches_city = |region: &&Region| {
            region.slug.len() > requested.len()
                && region.slug.starts_with(requested)
                && region.slug[requested.len()..]
                    .chars()
                    .all(|c| c.is_ascii_digit())
        };
        REGIONS.iter().rev().find(matches_city)
    })
}

pub fn size_by_slug(slug: &str) -> Option<&'static Size> {
    SIZES.iter().find(|size| size.slug == slug)
}

pub fn image_by_slug(slug: &str) -> Option<&'static Image> {
    IMAGES.iter().find(|image| image.slug == slug)
}

pub fn image_by_id(id: u64) -> Option<&'static Image> {
    IMAGES.iter().find(|image| image.id == id)
}

fn region_slugs() -> Vec<&'static str> {
    REGIONS.iter().map(|region| region.slug).collect()
}

fn size_slugs() -> Vec<&'static str> {
    SIZES.iter().map(|size| size.slug).collect()
}

/// Render a region as the API embeds it in droplets and actions.
pub fn region_json(region: &Region) -> Value {
    json!({
        "name": region.name,
        "slug": region.slug,
        "features": ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
        "available": true,
        "sizes": size_slugs(),
    })
}

/// Render a size as the API embeds it in droplets.
pub fn size_json(size: &Size) -> Value {
    json!({
        "slug": size.slug,
        "memory": size.memory_mib,
        "vcpus": size.vcpus,
        "disk": size.disk_gib,
        "transfer": size.transfer_tib,
        "price_monthly": size.price_monthly,
        "price_hourly": hourly_price(size.price_monthly),
        "regions": region_slugs(),
        "available": true,
        "description": size.description,
        "disk_info": [{ "type": "local", "size": { "amount": size.disk_gib, "unit": "gib" } }],
    })
}

/// Render a public image as the API embeds it in droplets.
pub fn image_json(image: &Image) -> Value {
    json!({
        "id": image.id,
        "name": image.name,
        "distribution": image.distribution,
        "slug": image.slug,
        "public": true,
        "regions": region_slugs(),
        "created_at": image.created_at,
        "type": "base",
        "min_disk_size": image.min_disk_size,
        "size_gigabytes": image.size_gigabytes,
        "description": format!("{} {}", image.distribution, image.name),
        "tags": [],
        "status": "available",
        "error_message": "",
    })
}

/// Derive the hourly price: DigitalOcean caps billing at 672 hours a month.
fn hourly_price(monthly: f64) -> f64 {
    (monthly / 672.0 * 100_000.0).round() / 100_000.0
}

#[cfg(test)]
mod tests {
    use super::resolve_region;

    #[test]
    fn region_prefix_picks_a_region_of_that_city() {
        assert_eq!(resolve_region("nyc3").unwrap().slug, "nyc3");
        assert_eq!(resolve_region("nyc").unwrap().slug, "nyc3");
        assert_eq!(resolve_region("sfo").unwrap().slug, "sfo3");
        assert!(resolve_region("ny").is_none());
        assert!(resolve_region("mars1").is_none());
    }
}
