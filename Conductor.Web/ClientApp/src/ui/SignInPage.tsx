import { useEffect, useRef, useState, type FormEvent } from "react";
import type { GitHubDeviceResponse } from "../api/contracts";
import { ApiError } from "../api/errors";
import { ErrorText } from "./ErrorText";
import { useServices } from "./services";

export function SignInPage({ expired, notShared = false }: { expired: boolean; notShared?: boolean }) {
  const { auth, session } = useServices();
  const [login, setLogin] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [device, setDevice] = useState<GitHubDeviceResponse | null>(null);
  const polling = useRef(false);

  const devSignIn = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      session.signIn(await auth.devLogin(login.trim()));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const startGitHub = async () => {
    setError(null);
    try {
      setDevice(await auth.startGitHubDeviceFlow());
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 404
          ? new Error("GitHub sign-in is not configured on this server.")
          : failure,
      );
    }
  };

  // Poll at the interval GitHub asks for until the user approves, denies, or the code expires.
  useEffect(() => {
    if (!device || polling.current) {
      return;
    }
    polling.current = true;
    let interval = device.interval;
    let timer = 0;
    const poll = async () => {
      try {
        const answer = await auth.pollGitHub(device.device_code);
        if ("access_token" in answer) {
          session.signIn(answer);
          return;
        }
        interval = answer.interval || interval;
        timer = window.setTimeout(() => void poll(), interval * 1000);
      } catch (failure) {
        setDevice(null);
        setError(failure);
      }
    };
    timer = window.setTimeout(() => void poll(), interval * 1000);
    return () => {
      window.clearTimeout(timer);
      polling.current = false;
    };
  }, [device, auth, session]);

  return (
    <main className="centered signin">
      <h1>Sign in to Conductor</h1>
      {expired && <p role="status">Your session has ended. Please sign in again.</p>}
      {notShared && (
        <p role="status">
          You are signed out here, but not every Conductor server could be told yet: a copy of your old session may keep
          working on the others for up to 15 minutes.
        </p>
      )}
      <form onSubmit={(event) => void devSignIn(event)}>
        <label htmlFor="login">Name</label>
        <input
          id="login"
          value={login}
          onChange={(event) => setLogin(event.target.value)}
          autoComplete="username"
          autoFocus
          required
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <p className="hint">Development sign-in: any name signs you in as that user.</p>
      <div className="github">
        {device ? (
          <div role="status">
            <p>
              Enter the code <strong className="user-code">{device.user_code}</strong> at{" "}
              <a href={device.verification_uri} target="_blank" rel="noreferrer">
                {device.verification_uri}
              </a>
              . This page continues when you approve.
            </p>
          </div>
        ) : (
          <button type="button" onClick={() => void startGitHub()}>
            Sign in with GitHub
          </button>
        )}
      </div>
      <ErrorText error={error} />
    </main>
  );
}
