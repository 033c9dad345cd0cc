import { useState } from "react";
import { ErrorText } from "./ErrorText";
import { navigate } from "./router";
import { useServices } from "./services";

/** Where an invite link lands (`/join?token=...`): one click joins and opens the room. */
export function JoinPage({ token }: { token: string }) {
  const { api } = useServices();
  const [error, setError] = useState<unknown>(token ? null : new Error("This invite link has no token."));
  const [busy, setBusy] = useState(false);

  const join = async () => {
    setBusy(true);
    setError(null);
    try {
      const joined = await api.joinRoom(token);
      navigate(`/rooms/${joined.room_id}`);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <main className="centered">
      <h1>You are invited to a room</h1>
      <button type="button" onClick={() => void join()} disabled={busy || !token}>
        Join room
      </button>
      <ErrorText error={error} />
    </main>
  );
}
