package dev.gradsentry.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.intervene.GuardMode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExternalNameTest {

    private static final ObjectMapper JSON = new ObjectMapper().registerModule(EnumJson.module());

    @Test
    void constantsAreLowerCaseWithHyphens() {
        assertEquals("fashion-mlp", ExternalName.of(WorkloadKind.FASHION_MLP));
        assertEquals("fashion-mlp", WorkloadKind.FASHION_MLP.id());
        assertEquals("observe", ExternalName.of(GuardMode.OBSERVE));
        assertEquals("lstm, rnn", ExternalName.valid(RunSpec.Cell.class));
    }

    @Test
    void interventionKindsKeepTheNamesTheAuditLogMetricsAndAlertRulesUse() {
        assertEquals("skip, rollback, lr-backoff, lr-restore, clip-enable, clip-tighten, clip-relax, clip-disable, "
                + "clip, pause, resume, policy-change", ExternalName.valid(InterventionKind.class));
    }

    @Test
    void everyConstantIsFoundByItsNameAndByItsJavaName() {
        for (Class<? extends Enum<?>> type : List.of(WorkloadKind.class, RunSpec.Cell.class, RunSpec.Act.class,
                RunSpec.Optimizer.class, RunState.class, GuardMode.class, InterventionKind.class)) {
            for (Enum<?> constant : type.getEnumConstants()) {
                assertEquals(Optional.of(constant), find(type, ExternalName.of(constant)));
                assertEquals(Optional.of(constant), find(type, constant.name()), "files of format 1 spell it so");
            }
        }
        assertEquals(Optional.empty(), ExternalName.find(WorkloadKind.class, "imagenet"));
    }

    @Test
    void jsonWritesAndReadsTheNameAndRefusesNumbersAndUnknownNames() throws Exception {
        assertEquals("\"fashion-rnn\"", JSON.writeValueAsString(WorkloadKind.FASHION_RNN));
        assertEquals(WorkloadKind.ADDING, JSON.readValue("\"adding\"", WorkloadKind.class));
        // Jackson alone would take 1 as the second constant.
        assertThrows(MismatchedInputException.class, () -> JSON.readValue("1", GuardMode.class));
        InvalidFormatException unknown = assertThrows(InvalidFormatException.class,
                () -> JSON.readValue("\"yolo\"", GuardMode.class));
        assertTrue(unknown.getOriginalMessage().contains("auto, observe, off"), unknown.getOriginalMessage());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Optional<Enum<?>> find(Class<? extends Enum<?>> type, String name) {
        return (Optional) ExternalName.find((Class) type, name);
    }
}
