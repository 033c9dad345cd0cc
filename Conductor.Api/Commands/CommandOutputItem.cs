using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Commands;

public sealed record CommandOutputItem(OutputChunk Chunk) : CommandStreamItem;
