namespace Conductor.Redis;
