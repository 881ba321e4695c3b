namespace Orchestration.E2E.Tests;

/// <summary>Reading through a port that <c>kubectl port-forward</c> opens.</summary>
internal static class PortForwarding
{
    /// <summary>
    /// GETs <c>/</c> on the local port, trying again while kubectl has not started listening yet (a
    /// bounded number of times); null when it never answered.
    /// </summary>
    public static async Task<string?> GetAsync(int localPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 50; i++)
        {
            try
            {
                return await http.GetStringAsync(new Uri($"http://127.0.0.1:{localPort}/"));
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200);
            }
        }

        return null;
    }
}
