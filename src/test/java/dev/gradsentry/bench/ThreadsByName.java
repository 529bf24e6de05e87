package dev.gradsentry.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * CPU time of every thread of this process, native ones included, grouped by the kernel's thread name
 * ({@code /proc/self/task/}{@code <tid>/stat}, Linux only): the evidence that ND4J computes on the calling thread. A
 * native OpenMP worker of ND4J is not a Java thread, so {@code ThreadMXBean} cannot see it; it inherits the name
 * {@code java}, as does the main thread that trains, while the JVM names its own threads ({@code C2 CompilerThre},
 * {@code GC Thread#0}, ...).
 */
final class ThreadsByName {

    /** Linux reports thread times in clock ticks of 1/100 s (USER_HZ). */
    private static final double TICK_SECONDS = 0.01;
    private static final Path TASKS = Path.of("/proc/self/task");

    private ThreadsByName() {
    }

    /** Clock ticks of user and system time by thread name; empty where {@code /proc} does not exist. */
    static Map<String, Long> ticks() {
        Map<String, Long> out = new HashMap<>();
        if (!Files.isDirectory(TASKS)) {
            return out;
        }
        try (Stream<Path> tasks = Files.list(TASKS)) {
            for (Path task : tasks.toList()) {
                try {
                    String stat = Files.readString(task.resolve("stat"));
                    // pid (comm) state ...: the name may hold spaces and parentheses, so split after the last ')'.
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    long t = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: fields 14 and 15
                    out.merge(name.replaceAll("#?\\d+$", "#n"), t, Long::sum);
                } catch (IOException | RuntimeException e) {
                    // the thread ended between the listing and the read
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    /**
     * What each group of threads used since {@code before}, largest first, with the training thread's own share
     * ({@code mainCpuNanos}, from ThreadMXBean) taken out of the {@code java} group: what is left there ran on
     * native threads.
     */
    static Usage since(Map<String, Long> before, long mainCpuNanos) {
        Map<String, Long> now = ticks();
        if (now.isEmpty()) {
            return new Usage(Map.of(), Double.NaN);
        }
        Map<String, Double> seconds = new HashMap<>();
        now.forEach((name, t) -> seconds.put(name, (t - before.getOrDefault(name, 0L)) * TICK_SECONDS));
        double main = mainCpuNanos / 1e9;
        double java = seconds.getOrDefault("java", 0.0);
        seconds.remove("java");
        seconds.put("training thread", main);
        if (java < 0.9 * main) {
            // The training thread is not among the threads named java: the remainder would prove nothing.
            throw new IllegalStateException(String.format(Locale.ROOT, "threads named java used %.2f s, less than the "
                    + "training thread's %.2f s: thread names differ here, so native threads cannot be told apart",
                    java, main));
        }
        seconds.put(OTHER_JAVA, java - main);
        double total = seconds.values().stream().mapToDouble(Double::doubleValue).sum();
        return new Usage(seconds, main / total);
    }

    private static final String OTHER_JAVA = "other native threads named java (OpenMP workers would be here)";

    /**
     * @param seconds       CPU seconds by thread group
     * @param trainingShare the training thread's share of the process's CPU time
     */
    record Usage(Map<String, Double> seconds, double trainingShare) {

        String summary() {
            if (seconds.isEmpty()) {
                return "(no /proc/self/task here)";
            }
            return seconds.entrySet().stream().filter(e -> e.getValue() >= 0.05 || e.getKey().equals(OTHER_JAVA))
                    .sorted(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder()))
                    .map(e -> String.format(Locale.ROOT, "%s %.2f s", e.getKey(), e.getValue()))
                    .collect(Collectors.joining(", "));
        }
    }
}
