namespace Conductor.Jobs;
