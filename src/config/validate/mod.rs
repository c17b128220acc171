//! Validation: from the item tree to a typed [`Model`], with every problem reported.
//!
//! Each block has its own module; cross-references (track_script names, sync group members,
//! duplicate identities) are checked here once everything is read.

mod address;
mod auth_hmac;
mod global;
mod instance;
pub mod keywords;
mod processes;
mod routes;
mod scripts;
mod sync;
mod tracks;
pub mod values;
mod witness;

use super::diag::Diagnostic;
use super::model::{AddressVmac, Family, Model, Vmac};
use super::parse::Item;
use super::source::{Span, Spanned};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Collects diagnostics while validating.
#[derive(Default)]
pub struct Ctx {
    pub diagnostics: Vec<Diagnostic>,
    /// `baton_unknown_keywords warning`: unknown keywords are warnings, not errors.
    pub unknown_is_warning: bool,
    /// `enable_script_security`: a shell line cannot be checked, so it is an error.
    pub script_security: bool,
}

/// The `global_defs` keyword that turns unknown keywords from errors into warnings.
pub const UNKNOWN_KEYWORDS: &str = "baton_unknown_keywords";

impl Ctx {
    pub fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::error(span, message);
        d.help = help;
        self.diagnostics.push(d);
    }

    pub fn warning(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::warning(span, message);
        d.help = help;
        self.diagnostics.push(d);
    }

    /// "unknown keyword `foo` in BLOCK", with a suggestion when one is close: an error,
    /// or a warning with `baton_unknown_keywords warning`. An unknown keyword may be a
    /// newer keepalived feature that changes the election or the wire (e.g. a new
    /// authentication), so running without it is not assumed to be safe.
    pub fn unknown(&mut self, item: &Item, block: &str, known: &[&str]) {
        let suggestion = keywords::closest(&item.keyword.value, known);
        let message = format!("unknown keyword `{}` in {block}", item.keyword.value);
        if self.unknown_is_warning {
            let help = suggestion.map(|k| format!("did you mean `{k}`?"));
            self.warning(item.keyword.span, message, help);
            return;
        }
        let help = match suggestion {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!(
                "baton does not know it, so it cannot tell whether ignoring it is safe; remove \
                 it, or add `{UNKNOWN_KEYWORDS} warning` to global_defs to ignore unknown \
                 keywords with a warning"
            ),
        };
        self.error(item.keyword.span, message, Some(help));
    }

    /// A keepalived keyword that baton does not implement and refuses, because running
    /// without it would change who hears whom, who wins or what goes on the wire.
    pub fn refused(&mut self, item: &Item, block: &str, why: &str) {
        let kw = &item.keyword.value;
        self.error(
            item.keyword.span,
            format!("baton does not implement `{kw}` (in {block}); without it, {why}"),
            Some(format!(
                "remove `{kw}` here and on the other nodes, or keep keepalived for this \
                 instance"
            )),
        );
    }

    /// A keepalived keyword that baton accepts and ignores.
    pub fn ignored(&mut self, item: &Item, block: &str) {
        self.warning(
            item.keyword.span,
            format!(
                "`{}` in {block} is not supported by baton; ignored",
                item.keyword.value
            ),
            None,
        );
    }

    /// The block of `item`, or an error if it has none.
    pub fn block<'a>(&mut self, item: &'a Item, example: &str) -> Option<&'a [Item]> {
        match &item.block {
            Some(b) => Some(&b.items),
            None => {
                self.error(
                    item.head_span(),
                    format!("`{}` needs a block", item.keyword.value),
                    Some(format!("expected `{} {{ {example} }}`", item.keyword.value)),
                );
                None
            }
        }
    }

    /// Warns about a block where none is expected.
    pub fn no_block(&mut self, item: &Item) {
        if let Some(b) = &item.block {
            self.warning(
                b.open,
                format!(
                    "`{}` takes no block; the block is ignored",
                    item.keyword.value
                ),
                None,
            );
        }
    }

    /// The name argument of a named block (`vrrp_instance NAME { ... }`).
    pub fn name<'a>(&mut self, item: &'a Item) -> Option<&'a Spanned<String>> {
        let name = item.args.first();
        if name.is_none() {
            self.error(
                item.keyword.span,
                format!("`{}` needs a name", item.keyword.value),
                Some(format!("expected `{} NAME {{ ... }}`", item.keyword.value)),
            );
        }
        values::extra_args(self, item, 1);
        name
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Warns when a single-valued keyword appears twice in one block (the last one wins).
#[derive(Default)]
pub struct Seen {
    first: HashMap<String, Span>,
}

impl Seen {
    pub fn check(&mut self, cx: &mut Ctx, item: &Item) {
        let kw = &item.keyword.value;
        if let Some(first) = self.first.get(kw) {
            cx.warning(
                item.keyword.span,
                format!("`{kw}` is set twice in this block; the last one is used"),
                Some(format!("first set on line {}", first.line)),
            );
        }
        self.first.insert(kw.clone(), item.keyword.span);
    }
}

/// Builds the model from the item tree. `None` when there is any error.
pub fn build(items: &[Item]) -> (Option<Model>, Vec<Diagnostic>) {
    let mut cx = Ctx {
        unknown_is_warning: global::unknown_keywords_are_warnings(items),
        script_security: global::script_security(items),
        ..Ctx::default()
    };
    let global = global::build(&mut cx, items);
    let witness = witness::build(&mut cx, items);
    let scripts = scripts::build_scripts(&mut cx, items);
    let track_files = scripts::build_track_files(&mut cx, items);
    let track_processes = processes::build(&mut cx, items);
    let refs = Refs {
        scripts: &scripts,
        track_files: &track_files,
        track_processes: &track_processes,
    };
    let mut instances = Vec::new();
    let mut declared: Vec<&str> = Vec::new();
    let mut groups = Vec::new();
    for item in items {
        match item.keyword.value.as_str() {
            "global_defs" | "vrrp_script" | "track_file" | "vrrp_track_file"
            | "vrrp_track_process" | "witness" => {}
            "vrrp_instance" => {
                if let Some(name) = item.args.first() {
                    declared.push(&name.value);
                }
                if let Some(i) = instance::build(&mut cx, item, &global, &refs) {
                    instances.push(i);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = sync::build(&mut cx, item, &refs) {
                    groups.push(g);
                }
            }
            kw if keywords::TOP_SKIPPED.contains(&kw) => skipped(&mut cx, item),
            _ => cx.unknown(item, "the top level", keywords::TOP),
        }
    }
    default_vmac_names(&mut instances);
    address_vmacs(&mut instances);
    check_instances(&mut cx, &instances);
    if witness.is_some() {
        witness::check_keys(&mut cx, &instances);
    }
    let sync_groups = sync::check(&mut cx, groups, &declared);
    for group in &sync_groups {
        sync::check_member_weights(&mut cx, group, &mut instances, &refs);
        sync::check_member_states(&mut cx, group, &mut instances);
    }
    let model = Model {
        global: global.global,
        scripts: scripts.valid,
        track_files: track_files.valid,
        track_processes: track_processes.valid,
        instances: instances.into_iter().map(|i| i.instance).collect(),
        sync_groups,
        witness,
    };
    let ok = !cx.has_errors();
    (ok.then_some(model), cx.diagnostics)
}

fn skipped(cx: &mut Ctx, item: &Item) {
    let what = if item.block.is_some() {
        "block"
    } else {
        "keyword"
    };
    cx.warning(
        item.head_span(),
        format!(
            "`{}` {what} is not used by baton (not VRRP); skipped",
            item.keyword.value
        ),
        None,
    );
}

/// Named definitions: the valid ones, and the names of those dropped with a warning.
pub struct Named<T> {
    pub valid: BTreeMap<String, T>,
    pub dropped: HashSet<String>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named {
            valid: BTreeMap::new(),
            dropped: HashSet::new(),
        }
    }
}

pub struct Refs<'a> {
    pub scripts: &'a Named<crate::config::model::TrackScript>,
    pub track_files: &'a Named<crate::config::model::TrackFile>,
    pub track_processes: &'a Named<crate::config::model::TrackProcess>,
}

impl Refs<'_> {
    /// Checks a `track_script` / `track_file` / `track_process` name; `false` if the track
    /// must be dropped.
    pub fn check(&self, cx: &mut Ctx, kind: &str, name: &Spanned<String>) -> bool {
        let (valid, dropped, block): (bool, bool, &str) = match kind {
            "track_script" => (
                self.scripts.valid.contains_key(&name.value),
                self.scripts.dropped.contains(&name.value),
                "vrrp_script",
            ),
            "track_process" => (
                self.track_processes.valid.contains_key(&name.value),
                self.track_processes.dropped.contains(&name.value),
                "vrrp_track_process",
            ),
            _ => (
                self.track_files.valid.contains_key(&name.value),
                self.track_files.dropped.contains(&name.value),
                "track_file",
            ),
        };
        if valid {
            return true;
        }
        if dropped {
            cx.warning(
                name.span,
                format!(
                    "{block} `{}` is unusable, so this {kind} is ignored",
                    name.value
                ),
                None,
            );
        } else {
            let names: Vec<&str> = match kind {
                "track_script" => self.scripts.valid.keys().map(String::as_str).collect(),
                "track_process" => self
                    .track_processes
                    .valid
                    .keys()
                    .map(String::as_str)
                    .collect(),
                _ => self.track_files.valid.keys().map(String::as_str).collect(),
            };
            let help = match keywords::closest(&name.value, &names) {
                Some(k) => format!("did you mean `{k}`?"),
                None => format!("define it with `{block} {} {{ ... }}`", name.value),
            };
            cx.error(
                name.span,
                format!(
                    "{kind} refers to `{}`, but there is no {block} of that name",
                    name.value
                ),
                Some(help),
            );
        }
        false
    }
}

/// Duplicate names and identities across instances.
fn check_instances(cx: &mut Ctx, instances: &[instance::Built]) {
    let mut names: HashMap<&str, Span> = HashMap::new();
    let mut identities: HashMap<(&str, u8, Family), (&str, Span)> = HashMap::new();
    for built in instances {
        let i = &built.instance;
        if let Some(first) = names.get(i.name.as_str()) {
            cx.error(
                built.name_span,
                format!("vrrp_instance `{}` is defined twice", i.name),
                Some(format!("the first definition is on line {}", first.line)),
            );
        } else {
            names.insert(&i.name, built.name_span);
        }
        let key = (i.interface.as_str(), i.vrid, i.family);
        if let Some((other, _)) = identities.get(&key) {
            cx.error(
                built.vrid_span,
                format!(
                    "virtual_router_id {} is already used on {} for {:?} by vrrp_instance `{other}`",
                    i.vrid, i.interface, i.family
                ),
                Some("each (interface, virtual_router_id, family) must be unique".to_string()),
            );
        } else {
            identities.insert(key, (&i.name, built.vrid_span));
        }
    }
    check_vmac_names(cx, instances);
}

/// keepalived's default name for an IPv6 VMAC whose `vrrp.VRID` another instance has:
/// `vrrp6.VRID`.
fn default_vmac_names(instances: &mut [instance::Built]) {
    let taken: Vec<String> = instances
        .iter()
        .filter(|b| b.instance.family != Family::IPv6)
        .filter_map(|b| b.instance.use_vmac.as_ref().map(|v| v.name.clone()))
        .collect();
    for built in instances.iter_mut() {
        let vrid = built.instance.vrid;
        if built.instance.family != Family::IPv6 {
            continue;
        }
        if let Some(v) = built.instance.use_vmac.as_mut()
            && !v.name_given
            && taken.contains(&v.name)
        {
            v.name = format!("vrrp6.{vrid}");
        }
    }
}

/// The macvlans of `use_vmac_addr` and of `use_vmac` on address lines, one per
/// (interface, family) of each instance, named by [`address_vmac_name`]. Their MAC is the
/// instance's `use_vmac` MAC if one was written (as keepalived), else the RFC 5798 virtual
/// MAC of the address's family.
fn address_vmacs(instances: &mut [instance::Built]) {
    for built in instances.iter_mut() {
        let i = &built.instance;
        let mut wanted: Vec<(String, Family)> = Vec::new();
        for vip in i.vips.iter().chain(&i.excluded_vips) {
            if let Some((base, family)) = i.address_vmac_key(vip) {
                let key = (base.to_string(), family);
                if !wanted.contains(&key) {
                    wanted.push(key);
                }
            }
        }
        let given_mac = i
            .use_vmac
            .as_ref()
            .map(|v| v.mac)
            .filter(|mac| *mac != Vmac::rfc_mac(i.vrid, i.family));
        let made = wanted
            .into_iter()
            .map(|(base, family)| AddressVmac {
                name: address_vmac_name(i.vrid, family, &base),
                mac: given_mac.unwrap_or_else(|| Vmac::rfc_mac(i.vrid, family)),
                base,
                family,
            })
            .collect();
        built.instance.address_vmacs = made;
    }
}

/// The name of an address VMAC, from what makes it one (the VRID, the family and the
/// interface it is made on) and from nothing else in the file: keepalived's names
/// (`vrrp.VRID`, else the first free `vrrpN.VRID`) depend on the other instances, so adding,
/// removing or reordering one would rename the macvlan of an unchanged instance, and a
/// rename restarts it (a failover for nothing). `vr4.VRID.BASE` (`vr6` for IPv6), or, when
/// that is longer than an interface name may be (15 bytes), `vr4.VRID.` and a hash of BASE.
pub fn address_vmac_name(vrid: u8, family: Family, base: &str) -> String {
    let version = if family == Family::IPv6 { 6 } else { 4 };
    let prefix = format!("vr{version}.{vrid}.");
    let full = format!("{prefix}{base}");
    if full.len() <= IFNAME_MAX {
        return full;
    }
    // FNV-1a: stable across versions and machines (a std hasher is neither).
    let hash = base.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let room = IFNAME_MAX - prefix.len();
    let digits = format!("{hash:016x}");
    format!("{prefix}{}", &digits[..room])
}

/// The longest interface name Linux takes (IFNAMSIZ less the NUL).
const IFNAME_MAX: usize = 15;

/// A VMAC name is one instance's: not another's VMAC, nor an instance's interface.
fn check_vmac_names(cx: &mut Ctx, instances: &[instance::Built]) {
    let mut vmacs: HashMap<&str, &str> = HashMap::new();
    for built in instances {
        let i = &built.instance;
        let Some(vmac) = &i.use_vmac else { continue };
        let clash = vmacs.get(vmac.name.as_str()).copied().or_else(|| {
            instances
                .iter()
                .find(|o| o.instance.interface == vmac.name)
                .map(|o| o.instance.name.as_str())
        });
        if let Some(other) = clash {
            cx.error(
                built.name_span,
                format!(
                    "instance {}: the VMAC name {} is already used by vrrp_instance `{other}`",
                    i.name, vmac.name
                ),
                Some("give each instance its own name: `use_vmac NAME`".to_string()),
            );
        } else {
            vmacs.insert(&vmac.name, &i.name);
        }
    }
    // An address VMAC's name is its alone: not another's, not an instance's VMAC, not an
    // interface the file names (a hash of a long interface name could meet another).
    let mut names: HashMap<&str, &str> = HashMap::new();
    for built in instances {
        for v in &built.instance.address_vmacs {
            let clash = names.get(v.name.as_str()).copied().or_else(|| {
                instances.iter().find_map(|o| {
                    let i = &o.instance;
                    let named = i.interface == v.name
                        || i.use_vmac.as_ref().is_some_and(|own| own.name == v.name)
                        || i.vips
                            .iter()
                            .chain(&i.excluded_vips)
                            .any(|a| a.dev.as_deref() == Some(v.name.as_str()));
                    named.then_some(i.name.as_str())
                })
            });
            match clash {
                Some(other) => cx.error(
                    built.name_span,
                    format!(
                        "instance {}: the address VMAC {} on {} has the name of an interface \
                         or VMAC of vrrp_instance `{other}`",
                        built.instance.name, v.name, v.base
                    ),
                    Some(
                        "address VMACs are named vr4.VRID.INTERFACE (vr6 for IPv6): rename \
                         the other interface or VMAC"
                            .to_string(),
                    ),
                ),
                None => {
                    names.insert(&v.name, &built.instance.name);
                }
            }
        }
    }
    // Two macvlans with one MAC on one interface: the kernel refuses the second, and a
    // client could not tell the two groups apart.
    let mut macs: HashMap<(&str, [u8; 6]), &str> = HashMap::new();
    for built in instances {
        let i = &built.instance;
        let own = i.use_vmac.iter().map(|v| (i.interface.as_str(), v.mac));
        let extra = i.address_vmacs.iter().map(|v| (v.base.as_str(), v.mac));
        for (base, mac) in own.chain(extra) {
            match macs.get(&(base, mac)) {
                Some(other) => cx.error(
                    built.name_span,
                    format!(
                        "instance {}: a VMAC with the MAC {} on {base} is already made for \
                         vrrp_instance `{other}`",
                        i.name,
                        mac_text(mac)
                    ),
                    Some(
                        "an interface can carry one VMAC per MAC: use another \
                         virtual_router_id, or `use_vmac` with another MAC"
                            .to_string(),
                    ),
                ),
                None => {
                    macs.insert((base, mac), &i.name);
                }
            }
        }
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
