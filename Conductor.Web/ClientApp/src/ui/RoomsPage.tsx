import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { RoomSummary } from "../api/contracts";
import { ErrorText } from "./ErrorText";
import { navigate } from "./router";
import { useServices } from "./services";

export function RoomsPage() {
  const { api } = useServices();
  const [rooms, setRooms] = useState<RoomSummary[] | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setRooms((await api.listRooms()).rooms);
    } catch (failure) {
      setError(failure);
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const room = await api.createRoom(name.trim());
      navigate(`/rooms/${room.room_id}`);
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <main className="page rooms">
      <h1>Your rooms</h1>
      <form className="inline" onSubmit={(event) => void create(event)}>
        <label htmlFor="room-name">Room name</label>
        <input id="room-name" value={name} onChange={(event) => setName(event.target.value)} required maxLength={100} />
        <button type="submit">Create room</button>
      </form>
      <ErrorText error={error} />
      {rooms === null ? (
        <p aria-busy="true">Loading rooms…</p>
      ) : rooms.length === 0 ? (
        <p>No rooms yet. Create one, or open an invite link someone sent you.</p>
      ) : (
        <ul className="room-list">
          {rooms.map((room) => (
            <li key={room.room_id}>
              <a
                href={`/rooms/${room.room_id}`}
                onClick={(event) => {
                  event.preventDefault();
                  navigate(`/rooms/${room.room_id}`);
                }}
              >
                {room.name}
              </a>
              <span className="role">{room.role}</span>
              {room.ended_at && <span className="ended">ended</span>}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
