package dev.gradsentry.bench;

import java.util.Arrays;

/** Entry point of {@code ./bench}: benchmarks that print ratios measured side by side in one JVM. */
public final class Bench {

    private Bench() {
    }

    public static void main(String[] args) throws Exception {
        String what = args.length == 0 ? "" : args[0];
        String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (what) {
            case "overhead" -> OverheadBench.main(rest);
            case "explode" -> ExplosionBench.main(rest);
            case "checkpoint" -> CheckpointBench.main(rest);
            case "load" -> LoadBench.main(rest);
            case "stability" -> StabilityBench.main(rest);
            case "unseen" -> UnseenBench.main(rest);
            default -> {
                System.err.println("usage: ./bench overhead [--quick] | ./bench explode [steps] "
                        + "| ./bench stability [--quick] [--out DIR] [--split tuning|validation|control] [--only CONFIG]... "
                        + "[--contender LABEL]... [--seeds N] | ./bench checkpoint [--quick] "
                        + "| ./bench load [--quick] | ./bench unseen WORKLOAD OPTIMIZER LR STEPS SEED CONTENDER");
                System.exit(2);
            }
        }
    }
}
