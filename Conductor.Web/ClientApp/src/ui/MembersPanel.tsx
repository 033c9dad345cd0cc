import type { RoomDetail } from "../api/contracts";

interface Props {
  room: RoomDetail;
  me: string;
  online: ReadonlySet<string>;
  onTransfer: (userId: string) => void;
  onRemove: (userId: string) => void;
}

export function MembersPanel({ room, me, online, onTransfer, onRemove }: Props) {
  const canManage = room.role === "host" && room.ended_at === null;
  return (
    <aside className="members" aria-labelledby="members-heading">
      <h2 id="members-heading">Members</h2>
      <ul>
        {room.members.map((member) => {
          const isOnline = online.has(member.user_id) || (online.size === 0 && member.online === true);
          return (
            <li key={member.user_id} data-login={member.login}>
              <span className={`dot ${isOnline ? "online" : "offline"}`} aria-hidden="true" />
              <span className="login">{member.login}</span>
              <span className="role">{member.role}</span>
              <span className="presence">{isOnline ? "online" : "offline"}</span>
              {canManage && member.user_id !== me && (
                <span className="member-actions">
                  <button
                    type="button"
                    onClick={() => {
                      if (window.confirm(`Make ${member.login} the host? You become a guest.`)) {
                        onTransfer(member.user_id);
                      }
                    }}
                  >
                    Make host
                  </button>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => {
                      if (window.confirm(`Remove ${member.login} from the room?`)) {
                        onRemove(member.user_id);
                      }
                    }}
                  >
                    Remove
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
