namespace Orchestration.TestKit;

/// <summary>Waits, boundedly, for something that happens in the background (a controller's work, a watch's delivery).</summary>
public static class Eventually
{
    /// <summary>Whether <paramref name="condition"/> holds within <paramref name="attempts"/> checks <paramref name="interval"/> apart.</summary>
    public static async Task<bool> HoldsAsync(Func<Task<bool>> condition, int attempts, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(condition);
        for (var i = 0; i < attempts; i++)
        {
            if (await condition().ConfigureAwait(false))
            {
                return true;
            }

            await Task.Delay(interval).ConfigureAwait(false);
        }

        return await condition().ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="condition"/> holds within <paramref name="attempts"/> checks <paramref name="interval"/> apart.</summary>
    public static Task<bool> HoldsAsync(Func<bool> condition, int attempts, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return HoldsAsync(() => Task.FromResult(condition()), attempts, interval);
    }
}
