//! VRRP advert decode (parse + checksum verify) and encode (emit into a
//! preallocated buffer), v3/IPv4 and v2/IPv4, one address each.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use baton::wire::vrrp::{Auth, ChecksumMode, IPV4_MULTICAST, Repr, Version};
use criterion::{Criterion, criterion_group, criterion_main};

const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST: IpAddr = IpAddr::V4(IPV4_MULTICAST);

fn repr(version: Version) -> Repr {
    Repr {
        version,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth: match version {
            Version::V2 => Auth::Pass(*b"s3cret\0\0"),
            Version::V3 => Auth::None,
        },
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 51))],
    }
}

fn bench_version(c: &mut Criterion, name: &str, version: Version) {
    let repr = repr(version);
    let bytes = repr.to_bytes(SRC, DST, ChecksumMode::Rfc).unwrap();
    c.bench_function(&format!("{name}/decode"), |b| {
        b.iter(|| Repr::parse(black_box(&bytes), SRC, DST, ChecksumMode::Rfc).unwrap())
    });
    let mut buf = [0u8; 64];
    c.bench_function(&format!("{name}/encode"), |b| {
        b.iter(|| {
            black_box(&repr)
                .emit(black_box(&mut buf), SRC, DST, ChecksumMode::Rfc)
                .unwrap()
        })
    });
}

fn vrrp(c: &mut Criterion) {
    bench_version(c, "vrrp_v3_ipv4_1addr", Version::V3);
    bench_version(c, "vrrp_v2_ipv4_1addr_pass", Version::V2);
}

criterion_group!(benches, vrrp);
criterion_main!(benches);
