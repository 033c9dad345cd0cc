using Conductor.Tests.Auth;

namespace Conductor.Tests.Extension;

/// <summary>
/// Plays the person at github.com/login/device for the extension's device-flow test: when the fake GitHub sees the
/// first poll for a device code, that code is approved for <see cref="Login"/>, so the next poll gets tokens.
/// </summary>
internal sealed class DeviceApprover : IAsyncDisposable
{
    private readonly FakeGitHub _gitHub;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly HashSet<string> _approved = [];

    public DeviceApprover(FakeGitHub gitHub, string login)
    {
        _gitHub = gitHub;
        Login = login;
        _loop = Task.Run(LoopAsync);
    }

    public string Login { get; }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            foreach (var request in _gitHub.Requests)
            {
                if (request.Form.TryGetValue("device_code", out var code) && _approved.Add(code))
                {
                    try
                    {
                        _gitHub.SetDevice(code, FakeGitHub.DeviceStatus.Approved, 4_000_000 + _approved.Count, Login);
                    }
                    catch (KeyNotFoundException)
                    {
                        // A code the fake never issued (the test polls one on purpose): GitHub keeps refusing it.
                    }
                }
            }
            try
            {
                await Task.Delay(50, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
