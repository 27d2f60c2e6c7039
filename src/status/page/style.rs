//! The page's stylesheet: readable at 1280 px and on a phone (no fixed widths; the
//! services table turns into cards on narrow screens), and a colour for every state.

pub const CSS: &str = r#"
:root { --published:#1a7f37; --pending:#9a6700; --invalid:#cf222e; --conflict:#bc4c00;
  --quota:#8250df; --dns-conflict:#d1242f; --withdrawn:#57606a; --error:#a40e26; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
  padding: 1rem; max-width: 100%; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
.version { font-size: .9rem; color: #57606a; font-weight: normal; }
.banner { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .75rem; border-radius: 6px;
  font-weight: 600; margin: 0 0 .75rem; }
dl.facts { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: 0; }
dl.facts div { min-width: 8rem; } dt { font-size: .75rem; text-transform: uppercase; color: #57606a; }
dd { margin: 0; overflow-wrap: anywhere; }
.block { display: block; overflow-wrap: anywhere; }
.problems { border-left: 4px solid var(--error); padding-left: .75rem; }
.problems ul { margin: .25rem 0; padding-left: 1.2rem; } .problems li { overflow-wrap: anywhere; }
nav.counts { display: flex; flex-wrap: wrap; gap: .4rem; margin: 1rem 0; }
a.count { text-decoration: none; color: inherit; border: 1px solid #d0d7de; border-radius: 2rem;
  padding: .15rem .7rem; background: #f6f8fa; }
a.count.selected { outline: 2px solid #0969da; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid #d8dee4; }
th { font-size: .8rem; text-transform: uppercase; color: #57606a; }
td { overflow-wrap: anywhere; }
/* Names wrap at their separators, never mid-word: the column keeps the longest word. */
td[data-label="service"] { overflow-wrap: break-word; }
.scroll { overflow-x: auto; }
.usage.high { color: var(--error); font-weight: 600; }
form.filter { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: 1rem 0 .25rem; }
form.filter input, form.filter select, form.filter button { font: inherit; padding: .2rem .4rem; }
.shown { color: #57606a; }
.badge { display: inline-block; color: #fff; border-radius: 2rem; padding: 0 .6rem; font-size: .85rem;
  font-weight: 600; white-space: nowrap; }
.state-published.badge { background: var(--published); } .state-pending.badge { background: var(--pending); }
.state-invalid.badge { background: var(--invalid); } .state-conflict.badge { background: var(--conflict); }
.state-quota.badge { background: var(--quota); } .state-dns-conflict.badge { background: var(--dns-conflict); }
.state-withdrawn.badge { background: var(--withdrawn); } .state-error.badge { background: var(--error); }
a.count.state-published { border-color: var(--published); } a.count.state-pending { border-color: var(--pending); }
a.count.state-invalid { border-color: var(--invalid); } a.count.state-conflict { border-color: var(--conflict); }
a.count.state-quota { border-color: var(--quota); } a.count.state-dns-conflict { border-color: var(--dns-conflict); }
a.count.state-withdrawn { border-color: var(--withdrawn); } a.count.state-error { border-color: var(--error); }
.hosts { font-weight: 600; } .intent { color: #57606a; font-size: .9rem; }
.problem { color: var(--invalid); } .waiting { color: var(--pending); } .warning { color: #9a6700; }
.health { color: var(--published); } .health.unhealthy { color: var(--error); }
.result.success { color: var(--published); } .result.partial { color: var(--error); }
code { font-size: .9em; background: #f6f8fa; padding: 0 .2rem; border-radius: 3px; }
@media (max-width: 700px) {
  table.services thead { display: none; }
  table.services, table.services tbody, table.services tr, table.services td { display: block; width: 100%; }
  table.services tr { border: 1px solid #d0d7de; border-radius: 6px; margin-bottom: .6rem; padding: .3rem; }
  table.services td { border: 0; padding: .2rem .4rem; }
  table.services td::before { content: attr(data-label); display: block; font-size: .7rem;
    text-transform: uppercase; color: #57606a; }
}
"#;
