using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Commands;

public sealed record CommandFinishedItem(CommandRun Run) : CommandStreamItem;
