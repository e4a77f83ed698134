// The "Resumable" card on Airflow's dashboard (home page): how many task instances run with a checkpoint
// now and how many jobs are possible orphans, linking to the plugin's "Resumable" page.
//
// Airflow 3.3's UI imports this module (react_apps, destination "dashboard") and renders the function it
// finds at globalThis.AirflowPlugin. It shares its own React, React Router and Chakra UI through globalThis,
// so none of them is bundled here, and Chakra's semantic tokens make the card follow the UI's light or dark
// mode. The counts come from the plugin's JSON (/resumable/api/dashboard), which the auth manager checks
// like every other route of the plugin; the browser sends the UI's session cookie with it.

const React = globalThis.React;
const { Badge, Box, HStack, Link, Text } = globalThis.ChakraUI;
const { Link: RouterLink } = globalThis.ReactRouterDOM;

const API_URL = new URL("../api/dashboard", import.meta.url);
const REFRESH_MS = 10000;

function useSummary() {
  const [state, setState] = React.useState({ data: null, status: null });
  React.useEffect(() => {
    let live = true;
    const load = () =>
      fetch(API_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json().then((data) => [data, 200]) : [null, response.status]))
        .catch(() => [null, 0])
        .then(([data, status]) => {
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

// Badges as Airflow's own state badges draw them (its theme has a palette per task state).
function Count({ testId, count, palette, label }) {
  return (
    <HStack gap={2}>
      <Badge
        borderRadius="full"
        color={`${palette}.contrast`}
        colorPalette={palette}
        data-testid={testId}
        fontSize="sm"
        px={2}
        py={1}
        variant="solid"
      >
        {count}
      </Badge>
      <Text color="fg" fontSize="sm" fontWeight="bold">
        {label}
      </Text>
    </HStack>
  );
}

function Chevron() {
  return (
    <svg aria-hidden="true" fill="none" height="16" stroke="currentColor" strokeWidth="2" viewBox="0 0 24 24" width="16">
      <path d="m9 18 6-6-6-6" />
    </svg>
  );
}

function ResumableCard() {
  const { data, status } = useSummary();
  if (status === 401 || status === 403) return null; // the auth manager refused: nothing to show this user
  const running = data?.running_tasks;
  const orphans = data?.possible_orphans;
  return (
    <Box order={3} data-testid="resumable-dashboard-card">
      <Link asChild color="fg.emphasized" _hover={{ textDecoration: "none" }}>
        <RouterLink to={data?.overview ?? "/plugin/resumable-overview"}>
          <HStack
            alignItems="center"
            borderRadius="lg"
            borderWidth={1}
            flexWrap="wrap"
            gap={4}
            p={2}
            _hover={{ bg: "bg.muted" }}
          >
            <Text color="fg.muted" fontSize="sm">
              Resumable
            </Text>
            <Count
              testId="resumable-running"
              count={running ?? "…"}
              palette="running"
              label={running === 1 ? "running checkpointed task" : "running checkpointed tasks"}
            />
            <Count
              testId="resumable-orphans"
              count={orphans ?? "…"}
              palette={orphans ? "failed" : "gray"}
              label={orphans === 1 ? "possible orphaned job" : "possible orphaned jobs"}
            />
            {data === null && status !== null ? (
              <Text color="fg.error" fontSize="xs">
                {status ? `HTTP ${status}` : "unreachable"}
              </Text>
            ) : null}
            <Chevron />
          </HStack>
        </RouterLink>
      </Link>
    </Box>
  );
}

globalThis.AirflowPlugin = ResumableCard;
export default ResumableCard;
