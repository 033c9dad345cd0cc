namespace Conductor.Hosting;
