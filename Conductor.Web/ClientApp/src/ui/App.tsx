import { useCallback, useEffect, useState } from "react";
import { ApiUnavailableError } from "../api/errors";
import { revokeSession } from "../auth/revokeSession";
import { JoinPage } from "./JoinPage";
import { RoomPage } from "./RoomPage";
import { RoomsPage } from "./RoomsPage";
import { navigate, useRoute } from "./router";
import { useServices, useSession } from "./services";
import { SignInPage } from "./SignInPage";
import { UnavailablePage } from "./UnavailablePage";

export function App() {
  const { session, auth } = useServices();
  const { session: current, reason } = useSession();
  const route = useRoute();
  const [apiUp, setApiUp] = useState<boolean | null>(null);

  const checkApi = useCallback(async () => {
    setApiUp(null);
    setApiUp(await auth.health());
  }, [auth]);

  useEffect(() => {
    void checkApi();
  }, [checkApi]);

  // Any call that finds the Api unreachable turns the whole app into the "not reachable" page.
  useEffect(() => {
    const onRejection = (event: PromiseRejectionEvent) => {
      if (event.reason instanceof ApiUnavailableError) {
        setApiUp(false);
      }
    };
    window.addEventListener("unhandledrejection", onRejection);
    return () => window.removeEventListener("unhandledrejection", onRejection);
  }, []);

  // Revoke first, then forget: the sign-in page appears only once the Api has ended the session (or cannot be
  // reached, in which case the refresh token still expires on its own). A sign-out the Api could not share with its
  // other instances is retried a few times, then said on the sign-in page.
  const signOut = async () => {
    const refreshToken = session.session?.refreshToken;
    const outcome = refreshToken ? await revokeSession((token) => auth.revoke(token), refreshToken) : "shared";
    session.signOut(outcome === "not_shared" ? "not_shared" : "signed_out");
    navigate("/");
  };

  if (apiUp === false) {
    return <UnavailablePage onRetry={checkApi} />;
  }
  if (apiUp === null && !current) {
    return <main className="centered" aria-busy="true"><p>Loading…</p></main>;
  }
  if (!current) {
    return <SignInPage expired={reason === "expired"} notShared={reason === "not_shared"} />;
  }
  return (
    <div className="app">
      <header className="topbar">
        <a href="/" className="brand" onClick={(event) => { event.preventDefault(); navigate("/"); }}>
          Conductor
        </a>
        <span className="who">
          Signed in as {current.user.login}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {route.page === "rooms" && <RoomsPage />}
      {route.page === "room" && <RoomPage key={route.roomId} roomId={route.roomId} onUnavailable={() => setApiUp(false)} />}
      {route.page === "join" && <JoinPage token={route.token} />}
    </div>
  );
}
