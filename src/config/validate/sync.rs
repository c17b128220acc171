//! `vrrp_sync_group`.

use super::values::{self, bool_opt};
use super::{Ctx, Refs, Seen, keywords, tracks};
use crate::config::model::{InitialState, Notify, SyncGroup};
use crate::config::parse::Item;
use crate::config::source::Spanned;
use std::collections::HashMap;

/// A group as read, with the spans of its name and members.
pub struct GroupDraft {
    group: SyncGroup,
    name: Spanned<String>,
    members: Vec<Spanned<String>>,
}

/// keepalived ignores the weights of what a sync group member tracks itself (a weighted
/// script or file is not tracked at all, a weighted interface means FAULT) unless the
/// group says `sync_group_tracking_weight`; baton always applies them. Rather than run
/// with a priority the keepalived node would not compute, a weighted track in a member of
/// a group without the keyword is an error at the member's name in `group { ... }`.
/// keepalived starts a sync group's members as master only when every one is the address
/// owner (who goes to master at start anyway): `state MASTER` on a member below priority
/// 255 is dropped, with a warning, and the member starts as BACKUP like the others.
pub fn check_member_states(
    cx: &mut Ctx,
    group: &SyncGroup,
    instances: &mut [super::instance::Built],
) {
    for member in &group.members {
        let Some(built) = instances.iter_mut().find(|b| &b.instance.name == member) else {
            continue;
        };
        if built.instance.state != InitialState::Master || built.instance.is_address_owner() {
            continue;
        }
        built.instance.state = InitialState::Backup;
        cx.warning(
            built.state_span.unwrap_or(built.name_span),
            format!(
                "`state MASTER` is not acted on in sync group `{}`: its members start as \
                 BACKUP together, as keepalived's do unless every member is the address owner",
                group.name
            ),
            Some("use `state BACKUP`".to_string()),
        );
    }
}

pub fn check_member_weights(
    cx: &mut Ctx,
    group: &SyncGroup,
    instances: &mut [super::instance::Built],
    refs: &Refs,
) {
    if group.tracking_weight {
        return;
    }
    for member in &group.members {
        let Some(built) = instances.iter_mut().find(|b| &b.instance.name == member) else {
            continue;
        };
        // keepalived: a tracked file's weight 1 (its default) becomes 0 in such a group (a
        // non-zero value means FAULT), with a warning; do the same, so both agree.
        for t in &mut built.instance.track_files {
            let own = refs.track_files.valid.get(&t.name).map_or(0, |f| f.weight);
            if t.weight.unwrap_or(own) == 1 {
                t.weight = Some(0);
                cx.warning(
                    built.name_span,
                    format!(
                        "vrrp_instance `{}` is in sync group `{}`: track_file {} is used with \
                         weight 0 (a non-zero value means FAULT), as keepalived does",
                        built.instance.name, group.name, t.name
                    ),
                    Some(
                        "write `weight 0` to say so, or add `sync_group_tracking_weight` \
                         to the group to keep the weight"
                            .to_string(),
                    ),
                );
            }
        }
        let built = &*built;
        let i = &built.instance;
        let mut weighted: Vec<String> = Vec::new();
        for t in &i.track_interfaces {
            if t.weight != 0 {
                weighted.push(format!("interface {} (weight {})", t.name, t.weight));
            }
        }
        for t in &i.track_scripts {
            let own = refs.scripts.valid.get(&t.name).map_or(0, |s| s.weight);
            let w = t.weight.unwrap_or(own);
            if w != 0 {
                weighted.push(format!("script {} (weight {w})", t.name));
            }
        }
        for t in &i.track_files {
            let own = refs.track_files.valid.get(&t.name).map_or(0, |f| f.weight);
            let w = t.weight.unwrap_or(own);
            if w != 0 {
                weighted.push(format!("file {} (weight {w})", t.name));
            }
        }
        for t in &i.track_processes {
            let own = refs
                .track_processes
                .valid
                .get(&t.name)
                .map_or(0, |p| p.weight);
            let w = t.weight.unwrap_or(own);
            if w != 0 {
                weighted.push(format!("process {} (weight {w})", t.name));
            }
        }
        if weighted.is_empty() {
            continue;
        }
        cx.error(
            built.name_span,
            format!(
                "vrrp_instance `{}` is in sync group `{}` and tracks with weights: {}; \
                 keepalived ignores such weights unless the group sets \
                 sync_group_tracking_weight, baton applies them, so the nodes could \
                 disagree on who wins",
                i.name,
                group.name,
                weighted.join(", ")
            ),
            Some(format!(
                "add `sync_group_tracking_weight` to vrrp_sync_group `{}` (the weights \
                 apply, on keepalived nodes too), or give these tracks weight 0 (a failure \
                 means FAULT)",
                group.name
            )),
        );
    }
}

pub fn build(cx: &mut Ctx, item: &Item, refs: &Refs) -> Option<GroupDraft> {
    let name = cx.name(item)?.clone();
    let children = cx.block(item, "group { VI_1 VI_2 }")?;
    let mut group = SyncGroup {
        name: name.value.clone(),
        members: Vec::new(),
        notify: Notify::default(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        tracking_weight: false,
    };
    let mut members = Vec::new();
    let mut seen = Seen::default();
    for child in children {
        let kw = child.keyword.value.as_str();
        if child.block.is_none() && keywords::SYNC_GROUP.contains(&kw) {
            seen.check(cx, child);
        }
        if tracks::notify(cx, &mut group.notify, child, false) {
            cx.no_block(child);
            continue;
        }
        match kw {
            "group" | "track_interface" | "track_script" | "track_file" | "track_process" => {
                values::extra_args(cx, child, 0);
                let Some(items) = cx.block(child, "NAME") else {
                    continue;
                };
                match kw {
                    "group" => members.extend(member_names(cx, items)),
                    "track_interface" => group.track_interfaces = tracks::interfaces(cx, items),
                    "track_script" => group.track_scripts = tracks::scripts(cx, items, refs),
                    "track_process" => group.track_processes = tracks::processes(cx, items, refs),
                    _ => group.track_files = tracks::files(cx, items, refs),
                }
            }
            "sync_group_tracking_weight" | "global_tracking" => {
                cx.no_block(child);
                group.tracking_weight = bool_opt(cx, child).unwrap_or(false);
            }
            _ if let Some(why) = keywords::refused(keywords::SYNC_GROUP_REFUSED, kw) => {
                cx.refused(child, "vrrp_sync_group", why);
            }
            _ if keywords::SYNC_GROUP_IGNORED.contains(&kw) => {
                cx.ignored(child, "vrrp_sync_group");
            }
            _ => cx.unknown(child, "vrrp_sync_group", keywords::SYNC_GROUP),
        }
    }
    Some(GroupDraft {
        group,
        name,
        members,
    })
}

fn member_names(cx: &mut Ctx, items: &[Item]) -> Vec<Spanned<String>> {
    let mut names = Vec::new();
    for item in items {
        cx.no_block(item);
        names.push(item.keyword.clone());
        // Several names on one line are accepted too.
        names.extend(item.args.iter().cloned());
    }
    names
}

/// Checks members against the instances; drops empty groups with a warning.
pub fn check(cx: &mut Ctx, drafts: Vec<GroupDraft>, instances: &[&str]) -> Vec<SyncGroup> {
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut names: HashMap<String, u32> = HashMap::new();
    let mut groups = Vec::new();
    for draft in drafts {
        let GroupDraft {
            mut group,
            name,
            members,
        } = draft;
        if let Some(line) = names.get(&group.name) {
            cx.error(
                name.span,
                format!("vrrp_sync_group `{}` is defined twice", group.name),
                Some(format!("the first definition is on line {line}")),
            );
            continue;
        }
        names.insert(group.name.clone(), name.span.line);
        for member in members {
            if check_member(cx, &group.name, &member, instances, &mut owner) {
                group.members.push(member.value);
            }
        }
        match group.members.len() {
            0 => cx.warning(
                name.span,
                format!(
                    "vrrp_sync_group `{}` has no members; it is ignored",
                    group.name
                ),
                Some("list the instances in `group { VI_1 VI_2 }`".to_string()),
            ),
            1 => {
                cx.warning(
                    name.span,
                    format!("vrrp_sync_group `{}` has only one member", group.name),
                    Some("a sync group needs two or more instances to matter".to_string()),
                );
                groups.push(group);
            }
            _ => groups.push(group),
        }
    }
    groups
}

fn check_member(
    cx: &mut Ctx,
    group: &str,
    member: &Spanned<String>,
    instances: &[&str],
    owner: &mut HashMap<String, String>,
) -> bool {
    if !instances.contains(&member.value.as_str()) {
        let help = match keywords::closest(&member.value, instances) {
            Some(n) => format!("did you mean `{n}`?"),
            None => "define it with `vrrp_instance NAME { ... }`".to_string(),
        };
        cx.error(
            member.span,
            format!(
                "sync group `{group}` lists `{}`, but there is no vrrp_instance of that name",
                member.value
            ),
            Some(help),
        );
        return false;
    }
    if let Some(other) = owner.get(&member.value) {
        let message = if other == group {
            format!("`{}` is listed twice in sync group `{group}`", member.value)
        } else {
            format!(
                "vrrp_instance `{}` is already in sync group `{other}`",
                member.value
            )
        };
        cx.error(
            member.span,
            message,
            Some("an instance belongs to at most one sync group".to_string()),
        );
        return false;
    }
    owner.insert(member.value.clone(), group.to_string());
    true
}
