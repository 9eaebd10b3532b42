import { describe, expect, it } from "vitest";
import { DEFAULT_NEAR_DUPLICATE_DISTANCE, hammingDistance, simHash, type SimHash64 } from "@/lib/cache/simhash";
import { createRng } from "@/lib/model/sampling/prng";

/** What L3's near-duplicate matching accepts (l3Responses.ts): at most the default distance apart. */
function isNearDuplicate(a: SimHash64, b: SimHash64): boolean {
  return hammingDistance(a, b) <= DEFAULT_NEAR_DUPLICATE_DISTANCE;
}

// The same request typed differently: punctuation, spelling variants, a typo, filler words, a synonym.
const NEAR_DUPLICATES: [string, string][] = [
  ["What is in this image?", "what is in this image"],
  ["Describe the picture in detail.", "Describe the picture in detail please."],
  ["How many people are standing near the red car?", "How many people are standing next to the red car?"],
  ["Can you describe what the cat on the sofa is doing?", "Can you describe what the cat on the sofa is doing"],
  [
    "Please summarise the text written on the sign in this photo.",
    "Please summarize the text written on the sign in this photo.",
  ],
  [
    "What is the name of the building shown in the picture and when was it built?",
    "What is the name of the building shown in this picture and when was it built?",
  ],
  ["Translate the menu in the image into English.", "Translate the menu in the image to English."],
  ["Is there a dog in the photo?", "Is there a dog in the photo ??"],
  [
    "List all the objects on the kitchen table, from left to right.",
    "List all of the objects on the kitchen table, from left to right.",
  ],
  [
    "Explain the chart: which month had the highest sales and by how much?",
    "Explain the chart - which month had the highest sales, and by how much?",
  ],
  ["What brand is the laptop on the desk?", "what brand is the laptop on teh desk?"],
  ["Write a short poem about the sunset in this photo.", "Write a short poem about the sunset in this picture."],
  ["Read the handwritten note and tell me what it says.", "Read the hand-written note and tell me what it says."],
  ["What colour is the umbrella the woman is holding?", "What color is the umbrella the woman is holding?"],
  ["Could you tell me what breed this dog is?", "Could you tell me what breed this dog is, please?"],
  [
    "Which of the two shirts in the photo would go better with blue jeans?",
    "Which of the two shirts in the photo would go best with blue jeans?",
  ],
  ["Give me a one-sentence caption for this image.", "Give me a one sentence caption for this image"],
  [
    "Are there any safety hazards visible in this construction site photo?",
    "Are there any safety hazards visible in this construction-site photo?",
  ],
  ["How old do you think the person in the picture is?", "How old do you think the person in the picture is ?"],
  [
    "Identify the plant in the pot and tell me how often to water it.",
    "Identify the plant in the pot, and tell me how often to water it.",
  ],
];

// Different requests, many of them one word apart: serving one's answer for the other would be wrong.
const DIFFERENT: [string, string][] = [
  ["What is in this image?", "Who took this photo?"],
  ["Describe the picture in detail.", "Count the birds in the sky."],
  ["How many people are standing near the red car?", "What is the licence plate of the red car?"],
  ["Can you describe what the cat on the sofa is doing?", "Is the sofa made of leather or fabric?"],
  [
    "Please summarise the text written on the sign in this photo.",
    "Please translate the text on the sign into French.",
  ],
  [
    "What is the name of the building shown in the picture and when was it built?",
    "Which architect designed the bridge in the background?",
  ],
  ["Translate the menu in the image into English.", "What is the cheapest dish on the menu?"],
  ["Is there a dog in the photo?", "Is there a cat in the photo?"],
  ["List all the objects on the kitchen table, from left to right.", "What colour are the kitchen walls?"],
  [
    "Explain the chart: which month had the highest sales and by how much?",
    "Explain the chart: which month had the lowest costs?",
  ],
  ["What brand is the laptop on the desk?", "What time does the clock on the wall show?"],
  ["Write a short poem about the sunset in this photo.", "Write a limerick about the dog in this photo."],
  ["What is on the left side of the image?", "What is on the right side of the image?"],
  ["How many apples are on the table?", "How many oranges are on the table?"],
  ["Translate the sign into Spanish.", "Translate the sign into German."],
  ["Describe the man's shirt.", "Describe the woman's dress."],
  ["Is the traffic light red or green?", "Is the door open or closed?"],
  ["What year was this car made?", "What year was this photo taken?"],
  ["Summarise the document in three bullet points.", "Summarise the document in one paragraph."],
  ["What is the total on the receipt?", "What is the date on the receipt?"],
];

const flagged = (pairs: [string, string][]) => pairs.filter(([a, b]) => isNearDuplicate(simHash(a), simHash(b))).length;
const truePositives = flagged(NEAR_DUPLICATES);
const falsePositives = flagged(DIFFERENT);
const precision = truePositives / Math.max(1, truePositives + falsePositives);
const recall = truePositives / NEAR_DUPLICATES.length;

describe("simHash", () => {
  it("is 16 hex characters, deterministic, and all zeros for a text without words", () => {
    const hash = simHash("What is in this image?");
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(simHash("What is in this image?")).toBe(hash);
    expect(simHash("")).toBe("0000000000000000");
    expect(simHash(" ?! … ")).toBe("0000000000000000");
  });

  it("ignores case, punctuation, spacing and compatibility forms", () => {
    const base = simHash("What is in this image?");
    expect(simHash("  WHAT   is in this image ")).toBe(base);
    expect(simHash("ｗｈａｔ is, in this... image!")).toBe(base);
  });

  it("lets word order matter", () => {
    expect(hammingDistance(simHash("dog bites man"), simHash("man bites dog"))).toBeGreaterThan(0);
  });

  it("puts unrelated texts about 32 bits apart", () => {
    const rng = createRng(7);
    const word = () => Array.from({ length: 6 }, () => String.fromCharCode(97 + (rng.nextUint32() % 26))).join("");
    const sentence = () => Array.from({ length: 12 }, word).join(" ");
    const distances = Array.from({ length: 200 }, () => hammingDistance(simHash(sentence()), simHash(sentence())));
    const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
    expect(mean).toBeGreaterThan(28);
    expect(mean).toBeLessThan(36);
    expect(Math.min(...distances)).toBeGreaterThan(DEFAULT_NEAR_DUPLICATE_DISTANCE);
  });

  it("counts differing bits", () => {
    const h = (text: string) => text as SimHash64;
    expect(hammingDistance(h("0000000000000000"), h("ffffffffffffffff"))).toBe(64);
    expect(hammingDistance(h("8000000000000001"), h("0000000000000000"))).toBe(2);
    expect(hammingDistance(h("00000000f0f0f0f0"), h("0000000000000000"))).toBe(16);
    expect(hammingDistance(h("0123456789abcdef"), h("0123456789abcdef"))).toBe(0);
  });

  it(`at distance ≤ ${DEFAULT_NEAR_DUPLICATE_DISTANCE} flags ${truePositives}/${NEAR_DUPLICATES.length} near duplicates and ${falsePositives}/${DIFFERENT.length} different requests (precision ${precision.toFixed(2)}, recall ${recall.toFixed(2)})`, () => {
    // Serving a wrong answer is worse than recomputing, so precision is what the default threshold protects.
    expect(precision).toBeGreaterThanOrEqual(0.95);
    expect(recall).toBeGreaterThanOrEqual(0.6);
  });
});
