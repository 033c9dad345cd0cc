export function UnavailablePage({ onRetry }: { onRetry: () => void }) {
  return (
    <main className="centered">
      <h1>Conductor is not reachable</h1>
      <p>
        The web app is running, but the Conductor service behind it does not answer. It may be starting or stopped;
        your work is kept on the server.
      </p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </main>
  );
}
