// airflow-resumable dashboard card. Built from ui-src/ by `make ui-bundle`: do not edit.

// src/dashboard.jsx
var React = globalThis.React;
var { Badge, Box, HStack, Link, Text } = globalThis.ChakraUI;
var { Link: RouterLink } = globalThis.ReactRouterDOM;
var API_URL = new URL("../api/dashboard", import.meta.url);
var REFRESH_MS = 1e4;
function useSummary() {
  const [state, setState] = React.useState({ data: null, status: null });
  React.useEffect(() => {
    let live = true;
    const load = () => fetch(API_URL, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((response) => response.ok ? response.json().then((data) => [data, 200]) : [null, response.status]).catch(() => [null, 0]).then(([data, status]) => {
      if (live) setState((previous) => ({ data: data ?? previous.data, status }));
    });
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return state;
}
function Count({ testId, count, palette, label }) {
  return /* @__PURE__ */ React.createElement(HStack, { gap: 2 }, /* @__PURE__ */ React.createElement(
    Badge,
    {
      borderRadius: "full",
      color: `${palette}.contrast`,
      colorPalette: palette,
      "data-testid": testId,
      fontSize: "sm",
      px: 2,
      py: 1,
      variant: "solid"
    },
    count
  ), /* @__PURE__ */ React.createElement(Text, { color: "fg", fontSize: "sm", fontWeight: "bold" }, label));
}
function Chevron() {
  return /* @__PURE__ */ React.createElement("svg", { "aria-hidden": "true", fill: "none", height: "16", stroke: "currentColor", strokeWidth: "2", viewBox: "0 0 24 24", width: "16" }, /* @__PURE__ */ React.createElement("path", { d: "m9 18 6-6-6-6" }));
}
function ResumableCard() {
  const { data, status } = useSummary();
  if (status === 401 || status === 403) return null;
  const running = data?.running_tasks;
  const orphans = data?.possible_orphans;
  return /* @__PURE__ */ React.createElement(Box, { order: 3, "data-testid": "resumable-dashboard-card" }, /* @__PURE__ */ React.createElement(Link, { asChild: true, color: "fg.emphasized", _hover: { textDecoration: "none" } }, /* @__PURE__ */ React.createElement(RouterLink, { to: data?.overview ?? "/plugin/resumable-overview" }, /* @__PURE__ */ React.createElement(
    HStack,
    {
      alignItems: "center",
      borderRadius: "lg",
      borderWidth: 1,
      flexWrap: "wrap",
      gap: 4,
      p: 2,
      _hover: { bg: "bg.muted" }
    },
    /* @__PURE__ */ React.createElement(Text, { color: "fg.muted", fontSize: "sm" }, "Resumable"),
    /* @__PURE__ */ React.createElement(
      Count,
      {
        testId: "resumable-running",
        count: running ?? "…",
        palette: "running",
        label: running === 1 ? "running checkpointed task" : "running checkpointed tasks"
      }
    ),
    /* @__PURE__ */ React.createElement(
      Count,
      {
        testId: "resumable-orphans",
        count: orphans ?? "…",
        palette: orphans ? "failed" : "gray",
        label: orphans === 1 ? "possible orphaned job" : "possible orphaned jobs"
      }
    ),
    data === null && status !== null ? /* @__PURE__ */ React.createElement(Text, { color: "fg.error", fontSize: "xs" }, status ? `HTTP ${status}` : "unreachable") : null,
    /* @__PURE__ */ React.createElement(Chevron, null)
  ))));
}
globalThis.AirflowPlugin = ResumableCard;
var dashboard_default = ResumableCard;
export {
  dashboard_default as default
};
