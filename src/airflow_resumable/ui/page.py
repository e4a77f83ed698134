"""The page shell of the plugin's views: Airflow-like styles (light and dark via ``prefers-color-scheme``), a
small script for live refresh and sortable tables, and HTML helpers. Nothing is loaded from outside the
API server: styles and scripts are inline.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

__all__ = ["bar_scale", "duration", "esc", "number", "page"]

STYLE = """
:root{--bg:#fff;--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0;--panel:#f7fafc;--accent:#017cee;
--ok:#38a169;--warn:#d69e2e;--bad:#e53e3e;--bar:#e2e8f0;--link:#0b6bcb;color-scheme:light dark}
@media (prefers-color-scheme: dark){:root{--bg:#1a202c;--fg:#e2e8f0;--muted:#a0aec0;--line:#2d3748;
--panel:#171923;--accent:#4dabf7;--bar:#2d3748;--link:#63b3ed}}
:root.dark{--bg:#1a202c;--fg:#e2e8f0;--muted:#a0aec0;--line:#2d3748;--panel:#171923;--accent:#4dabf7;
--bar:#2d3748;--link:#63b3ed;color-scheme:dark}
:root.light{--bg:#fff;--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0;--panel:#f7fafc;--accent:#017cee;
--bar:#e2e8f0;--link:#0b6bcb;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;padding:16px 20px;background:var(--bg);color:var(--fg);
font:14px/1.5 Inter,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:20px 0 8px}
.muted{color:var(--muted)}.small{font-size:12px}a{color:var(--link)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:10px 0;background:var(--panel)}
.card{overflow-x:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:6px 18px;margin-top:8px}
.grid div span{display:block;color:var(--muted);font-size:12px}
.bar{height:14px;border-radius:7px;background:var(--bar);overflow:hidden;margin:6px 0}
.bar>i{display:block;height:100%;background:var(--accent);transition:width .8s ease}
.bar.mini{height:8px;margin:2px 0;min-width:80px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;white-space:nowrap}
th[data-sort]{cursor:pointer;user-select:none}th[data-sort]:hover{color:var(--fg)}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;border:1px solid var(--line)}
.s-running,.s-deferred{color:var(--ok);border-color:var(--ok)}.s-success{color:var(--ok)}
.s-failed,.s-upstream_failed,.s-cancelled{color:var(--bad);border-color:var(--bad)}
.s-up_for_retry,.s-queued,.s-scheduled,.s-submitting{color:var(--warn);border-color:var(--warn)}
.rewind{color:var(--bad)}.commit{color:var(--accent)}
svg.timeline{max-width:100%;height:auto;display:block;margin:8px 0}svg text{fill:var(--muted);font-size:11px}
.refused{border-color:var(--bad)}
"""

SCRIPT = """
(function(){
  function theme(){  // follow the Airflow UI's own light/dark choice when embedded in it
    try{
      const c=window.parent.document.documentElement.classList, own=document.documentElement.classList;
      own.toggle('dark', c.contains('dark')); own.toggle('light', c.contains('light'));
    }catch(e){}
  }
  theme();
  try{
    if(window.parent!==window) new MutationObserver(theme).observe(
      window.parent.document.documentElement,{attributes:true,attributeFilter:['class']});
  }catch(e){}
  const every = Number(document.body.dataset.refresh || 0);
  let sortCol = null, sortDir = 1;
  function sortTables(){
    document.querySelectorAll('table[data-sortable]').forEach(function(t){
      if(sortCol===null) return;
      const body=t.tBodies[0]; const rows=Array.from(body.rows);
      rows.sort(function(a,b){
        const x=a.cells[sortCol].dataset.v ?? a.cells[sortCol].textContent;
        const y=b.cells[sortCol].dataset.v ?? b.cells[sortCol].textContent;
        const nx=Number(x), ny=Number(y);
        if(x!=='' && y!=='' && !isNaN(nx) && !isNaN(ny)) return (nx-ny)*sortDir;
        return x.localeCompare(y)*sortDir;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  }
  function bind(){
    document.querySelectorAll('th[data-sort]').forEach(function(th){
      th.onclick=function(){const c=th.cellIndex; sortDir=(sortCol===c)?-sortDir:1; sortCol=c; sortTables();};
    });
    sortTables();
  }
  bind();
  if(every>0){
    setInterval(function(){
      fetch(window.location.href,{credentials:'same-origin',headers:{'Accept':'text/html'}})
        .then(function(r){return r.ok?r.text():null;})
        .then(function(text){
          if(!text) return;
          const doc=new DOMParser().parseFromString(text,'text/html');
          const fresh=doc.getElementById('live'); const live=document.getElementById('live');
          if(fresh && live){live.innerHTML=fresh.innerHTML; bind();}
        }).catch(function(){});
    }, every*1000);
  }
})();
"""


def esc(value: Any) -> str:
    """``value`` as escaped HTML text (``—`` for ``None``)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def duration(seconds: float | None) -> str:
    """``seconds`` for people: ``42 s``, ``3 min 5 s``, ``2 h 10 min``, ``1 d 4 h``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def when(value: datetime | None) -> str:
    return "—" if value is None else esc(value.strftime("%Y-%m-%d %H:%M:%S %Z").strip())


def bar_scale(done: int) -> int:
    """The scale of a progress bar without a known total: the next of 10, 20, 50, 100, 200... above
    ``done`` (so the bar moves as items are done)."""
    scale = 10
    while scale <= done:
        for step in (2, 2.5, 2):
            scale = int(scale * step)
            if scale > done:
                break
    return scale


def page(title: str, body: str, *, refresh: int = 0, subtitle: str = "") -> str:
    """A whole HTML page; with ``refresh`` the ``#live`` element is re-fetched every ``refresh`` seconds.

    Colours follow the browser's ``prefers-color-scheme``, or, inside the Airflow UI, the UI's own light or
    dark mode (the ``light``/``dark`` class on its root element).
    """
    sub = f'<div class="muted small">{subtitle}</div>' if subtitle else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f'<body data-refresh="{refresh}"><h1>{esc(title)}</h1>{sub}'
        f'<div id="live">{body}</div><script>{SCRIPT}</script></body></html>'
    )
