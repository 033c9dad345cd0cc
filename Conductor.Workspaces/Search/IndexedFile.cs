namespace Conductor.Workspaces.Search;

/// <summary>
/// A file the index leaves to search. When <paramref name="Store"/> is set, the index's content store holds the file as
/// the index read it (<paramref name="Length"/> bytes at <paramref name="Offset"/> of shard <paramref name="Shard"/>),
/// when it had <paramref name="Size"/> bytes and modification time <paramref name="Mtime"/> (100 ns ticks): while the
/// file on disk still has both, the stored bytes are searched instead of reading it.
/// </summary>
internal sealed record IndexedFile(string Path, long Size, long Mtime, ContentStore? Store = null, int Shard = 0, long Offset = -1, int Length = 0);
